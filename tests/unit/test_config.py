"""Settings read from the environment: defaults, accepted values, one-line errors."""
from __future__ import annotations

import pytest

from shared.config import ConfigError, Settings


def test_sqlite_synchronous_defaults_to_full() -> None:
    assert Settings.from_env({}).sqlite_synchronous == "FULL"


@pytest.mark.parametrize("raw", ["NORMAL", "normal", "Full"])
def test_sqlite_synchronous_accepts_full_and_normal_in_any_case(raw: str) -> None:
    assert Settings.from_env({"SQLITE_SYNCHRONOUS": raw}).sqlite_synchronous == raw.upper()


@pytest.mark.parametrize("raw", ["OFF", "EXTRA", ""])
def test_sqlite_synchronous_refuses_levels_that_trade_durability_or_are_unknown(raw: str) -> None:
    with pytest.raises(ConfigError, match="SQLITE_SYNCHRONOUS must be one of FULL, NORMAL"):
        Settings.from_env({"SQLITE_SYNCHRONOUS": raw})


def test_one_call_timeout_serves_direct_calls_and_event_rpc() -> None:
    settings = Settings.from_env({"CALL_TIMEOUT_S": "2.5"})
    assert settings.call_timeout_s == 2.5
    assert not hasattr(settings, "rpc_timeout_s")
