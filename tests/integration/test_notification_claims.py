"""The notification store's attempts and send claims, on the in-memory fake, SQLite and PostgreSQL (the backends
and fixtures of ``test_storage``)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine

from shared.ports import NotificationStore
from shared.storage import SqlNotificationStore
from tests.integration import test_storage as storage
from tests.integration.test_storage import T0, THREADS, a_notification, run_concurrently

# test_storage's backends (memory, SQLite, PostgreSQL in a fresh schema) and stores, by the same fixture names.
postgres_url = storage.postgres_url
postgres_schema_url = storage.postgres_schema_url
backend = storage.backend
database_url = storage.database_url
open_engine = storage.open_engine
notification = storage.notification


def test_a_notification_keeps_its_attempts(notification: NotificationStore) -> None:
    webhook = replace(a_notification("a1", channel="webhook"), status="failed", attempts=4)
    log = a_notification("a1", channel="log")
    assert log.attempts == 1
    assert notification.add_all([log, webhook]) == [log, webhook]
    assert [n.attempts for n in notification.list_notifications("dev", None, "a1")] == [4, 1]


LEASE_S = 10.0


def test_the_first_claim_on_a_send_holds_it_and_later_claimants_are_told_who_holds_it(
    notification: NotificationStore,
) -> None:
    first = notification.claim("a1", "alert_opened", "webhook", "first", T0, LEASE_S)
    later = T0 + timedelta(seconds=LEASE_S - 1)
    again = notification.claim("a1", "alert_opened", "webhook", "second", later, LEASE_S)
    other_key = notification.claim("a1", "alert_resolved", "webhook", "second", later, LEASE_S)
    assert (first.token, first.claimed_at) == ("first", T0)
    assert again == first
    assert other_key.token == "second"


def test_concurrent_claims_on_one_send_have_exactly_one_winner(
    backend: str, notification: NotificationStore, open_engine: Callable[[], Engine]
) -> None:
    # SQL backends: a store per thread on its own engine, as separate processes would have.
    stores = [notification] * THREADS if backend == "memory" else [SqlNotificationStore(open_engine()) for _ in range(8)]

    def claim(index: int) -> str:
        return stores[index % len(stores)].claim("a1", "alert_opened", "webhook", f"t{index}", T0, LEASE_S).token

    holders = run_concurrently(claim)
    assert len(set(holders)) == 1 and holders[0].startswith("t")


def test_a_claim_older_than_the_lease_is_taken_over_once_unless_its_send_was_recorded(
    notification: NotificationStore,
) -> None:
    notification.claim("a1", "alert_opened", "webhook", "dead", T0, LEASE_S)
    stale = T0 + timedelta(seconds=LEASE_S + 1)
    taken = notification.claim("a1", "alert_opened", "webhook", "heir", stale, LEASE_S)
    assert (taken.token, taken.claimed_at) == ("heir", stale)
    assert notification.claim("a1", "alert_opened", "webhook", "third", stale, LEASE_S) == taken

    notification.claim("a2", "alert_opened", "webhook", "finished", T0, LEASE_S)
    notification.add_all([a_notification("a2", channel="webhook")])
    assert notification.claim("a2", "alert_opened", "webhook", "late", stale, LEASE_S).token == "finished"


def test_only_the_holder_releases_a_claim(notification: NotificationStore) -> None:
    notification.claim("a1", "alert_opened", "webhook", "holder", T0, LEASE_S)
    notification.release("a1", "alert_opened", "webhook", "someone-else")
    assert notification.claim("a1", "alert_opened", "webhook", "next", T0, LEASE_S).token == "holder"
    notification.release("a1", "alert_opened", "webhook", "holder")
    assert notification.claim("a1", "alert_opened", "webhook", "next", T0, LEASE_S).token == "next"
    notification.release("a9", "alert_opened", "webhook", "nobody")  # no claim: nothing to do
