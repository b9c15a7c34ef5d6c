"""API keys (``shared.auth``): entries hold digests, never keys; malformed entries are refused by name."""
from __future__ import annotations

import pytest

from harness.auth_keys import keys_for
from shared.auth import KeyRing, Principal, digest, entry, new_key
from shared.config import ConfigError, Settings


def test_a_new_key_is_prefixed_random_and_long() -> None:
    first, second = new_key(), new_key()
    assert first.startswith("mk_") and len(first) >= 40 and first != second


def test_an_entry_holds_the_digest_of_the_key_not_the_key() -> None:
    key = new_key()
    made = entry(key, "acme", ("write", "read"))
    assert made == f"acme:read+write:{digest(key)}"
    assert key not in made and len(digest(key)) == 64


def test_a_ring_verifies_its_keys_and_nothing_else() -> None:
    full, reader = new_key(), new_key()
    ring = KeyRing.parse(f" {entry(full, 'acme')} ,{entry(reader, 'globex', ('read',))},")
    assert ring.verify(full) == Principal("acme", frozenset({"read", "write"}))
    assert ring.verify(reader) == Principal("globex", frozenset({"read"}))
    assert ring.verify(new_key()) is None
    assert ring.verify("") is None and ring.verify(None) is None
    assert ring.verify(digest(full)) is None  # the stored digest is not itself a key
    assert len(ring) == 2


def test_an_empty_spec_is_an_empty_ring() -> None:
    assert len(KeyRing.parse("")) == 0 and len(KeyRing.parse(" , ")) == 0


@pytest.mark.parametrize(("spec", "says"), [
    ("acme:read", "must be tenant:scope"),
    (f"acme:read:{'a' * 64}:x", "must be tenant:scope"),
    (f"acme:admin:{'a' * 64}", "unknown scope"),
    (f"acme::{'a' * 64}", "at least one scope"),
    (f"Acme:read:{'a' * 64}", "tenant name"),
    (f"-acme:read:{'a' * 64}", "tenant name"),
    (f"{'a' * 65}:read:{'a' * 64}", "tenant name"),
    ("acme:read:mk_the-key-itself-pasted-here", "64 lower-case hex"),
    (f"acme:read:{'a' * 64},b:write:{'a' * 64}", "listed twice"),
])
def test_a_malformed_entry_is_refused_with_a_message_that_says_why(spec: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        KeyRing.parse(spec)


def test_a_refused_entry_does_not_echo_a_pasted_secret_whole() -> None:
    secret = new_key()
    with pytest.raises(ValueError) as refused:
        KeyRing.parse(f"acme:read:{secret}")
    assert secret not in str(refused.value)


def test_entry_refuses_a_bad_tenant_and_an_unknown_scope() -> None:
    with pytest.raises(ValueError, match="tenant name"):
        entry(new_key(), "Not A Tenant")
    with pytest.raises(ValueError, match="unknown scope"):
        entry(new_key(), "acme", ("read", "admin"))


def test_the_settings_refuse_an_api_without_keys_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="API_KEYS"):
        Settings.from_env({}).keyring()
    with pytest.raises(ConfigError, match="API_KEYS"):
        Settings.from_env({"API_KEYS": "nonsense"}).keyring()
    key = new_key()
    assert Settings.from_env({"API_KEYS": entry(key, "dev")}).keyring().verify(key) is not None


def test_the_harness_default_is_one_full_key_of_tenant_dev_or_the_api_key_of_the_environment() -> None:
    generated = keys_for(env={})
    assert list(generated.by_tenant) == ["dev"] and generated.default.startswith("mk_")
    assert KeyRing.parse(generated.api_keys).verify(generated.default) == Principal("dev", frozenset({"read", "write"}))
    chosen = keys_for(env={"API_KEY": "my-own-key"})
    assert chosen.default == "my-own-key" and KeyRing.parse(chosen.api_keys).verify("my-own-key") is not None
    assert "my-own-key" not in chosen.api_keys


def test_the_harness_makes_one_key_per_tenant_asked_for_with_its_scopes() -> None:
    keys = keys_for({"a": ("read", "write"), "b": ("read",)}, env={"API_KEY": "ignored"})
    ring = KeyRing.parse(keys.api_keys)
    assert set(keys.by_tenant) == {"a", "b"} and keys.default == keys.by_tenant["a"]
    assert ring.verify(keys.by_tenant["b"]) == Principal("b", frozenset({"read"}))
    assert ring.verify("ignored") is None
