"""Expected vs delivered notifications and the result→notification delay, read back through the public API.

The *ledger* is what the load generator sent: per stream target its rule parameters and every post
(sequence number, ``checked_at``, HTTP status, result id). The *snapshot* is what the variant holds
afterwards: per target its results, alerts and notifications (``GET /targets/{id}/results``,
``GET /alerts``, ``GET /notifications``). :func:`account` compares them:

- accepted results: answered 202, plus any other post the server nevertheless recorded (e.g. a
  timeout whose request went through); a 202 the server does not hold is counted as a lost result;
- expected alert transitions: the accepted results, in order, replayed through
  :func:`shared.rules.evaluate` (the rules are not re-implemented), each giving one notification per
  channel (``log``, plus ``webhook`` when the target has a webhook URL);
- delivered: expected (alert, event, channel) slots holding at least one notification; duplicated:
  every further notification in a slot, and notifications of unexpected slots are counted apart;
- delay: the first notification's ``created_at`` minus the causing result's ``received_at`` (both
  server timestamps).
"""

from __future__ import annotations

import gzip
import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import requests

from loadtest.pattern import result_for
from loadtest.stats import percentile
from shared.domain import RuleParams, parse_iso
from shared.rules import RuleState, evaluate

# ledger post fields
SEQ, CHECKED_AT, STATUS, RESULT_ID, T_SENT, T_DONE, TRANSITION, ATTEMPTS, FIRST_STATUS = range(9)
"""The fields of a ledger post; ATTEMPTS and FIRST_STATUS only in runs whose client retried (older ledgers stop at
TRANSITION)."""


def fetch_snapshot(session: requests.Session, base_url: str, target_ids: list[str], timeout_s: float = 10.0) -> dict:
    """Results (newest 500), alerts and notifications of each target, as the public API returns them."""
    snapshot: dict[str, dict] = {}
    for target_id in target_ids:
        entry: dict = {}
        for key, path in (
            ("results", f"/targets/{target_id}/results?limit=500"),
            ("alerts", f"/alerts?target_id={target_id}"),
            ("notifications", f"/notifications?target_id={target_id}"),
        ):
            try:
                response = session.get(base_url + path, timeout=timeout_s)
                entry[key] = response.json().get("items", []) if response.status_code == 200 else None
                if response.status_code != 200:
                    entry.setdefault("errors", []).append(f"{path}: {response.status_code}")
            except (requests.RequestException, ValueError) as error:
                entry[key] = None
                entry.setdefault("errors", []).append(f"{path}: {type(error).__name__}")
        snapshot[target_id] = entry
    return snapshot


def _seconds(later: str, earlier: str) -> float:
    return (parse_iso(later) - parse_iso(earlier)).total_seconds()


def account(ledger: dict, snapshot: dict) -> dict:
    """Compare what was sent with what the variant holds; totals plus one row per expected notification."""
    totals = defaultdict(int)
    slots_out: list[dict] = []
    for stream in ledger.get("streams", []):
        target_id = stream["target_id"]
        p = stream["params"]
        params = RuleParams(p["failure_threshold"], p.get("latency_threshold_ms"), p.get("webhook_url"))
        channels = ["log"] + (["webhook"] if params.webhook_url else [])
        server = snapshot.get(target_id) or {}
        if server.get("results") is None or server.get("notifications") is None or server.get("alerts") is None:
            totals["unreadable_targets"] += 1
        results = server.get("results") or []
        by_id = {r["id"]: r for r in results}
        by_checked = {r["checked_at"]: r for r in results}

        accepted: list[tuple[list, dict | None]] = []
        for post in sorted(stream["posts"], key=lambda row: row[SEQ]):
            totals["posts"] += 1
            held = by_id.get(post[RESULT_ID]) if post[RESULT_ID] else None
            held = held or by_checked.get(post[CHECKED_AT])
            if post[STATUS] == 202:
                totals["accepted_202"] += 1
                if held is None:
                    totals["accepted_results_missing"] += 1
                accepted.append((post, held))
            elif held is not None:
                totals["ambiguous_applied"] += 1
                accepted.append((post, held))
            else:
                totals["rejected"] += 1

        state = RuleState()
        opener_of: dict[str, dict | None] = {}
        expected: list[tuple[str, str, list, dict | None, dict | None]] = []  # event, kind, post, result, opener
        for post, held in accepted:
            if stream.get("k") is not None:
                ok, latency_ms = result_for(stream["k"], post[SEQ])
            else:  # a hand-written stream (sequential probe) carries its values
                ok, latency_ms = bool(post[7]), float(post[8])
            state, transitions = evaluate(state, ok, latency_ms, params)
            for transition in transitions:
                if transition.action == "open":
                    opener_of[transition.kind] = held
                    expected.append(("alert_opened", transition.kind, post, held, held))
                else:
                    expected.append(("alert_resolved", transition.kind, post, held, opener_of.pop(transition.kind, None)))

        alerts = server.get("alerts") or []
        alerts_by_opener: dict[str, list[dict]] = defaultdict(list)
        for alert in alerts:
            alerts_by_opener[alert["opened_by_result_id"]].append(alert)
        notes_by_slot: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        for note in server.get("notifications") or []:
            notes_by_slot[(note["alert_id"], note["event"], note["channel"])].append(note)

        expected_alerts = 0
        matched: set[tuple[str, str, str]] = set()
        for event, kind, post, held, opener in expected:
            if event == "alert_opened":
                expected_alerts += 1
            candidates = [a for a in alerts_by_opener.get(opener["id"], []) if a["kind"] == kind] if opener else []
            for channel in channels:
                totals["expected"] += 1
                row = {
                    "target_id": target_id,
                    "event": event,
                    "kind": kind,
                    "channel": channel,
                    "seq": post[SEQ],
                    "t_sent": post[T_SENT],
                    "delivered": False,
                    "copies": 0,
                    "delay_s": None,
                }
                for alert in candidates:
                    notes = notes_by_slot.get((alert["id"], event, channel))
                    if notes:
                        slot = (alert["id"], event, channel)
                        first = min(notes, key=lambda n: n["created_at"])
                        row.update(
                            delivered=slot not in matched,
                            copies=len(notes),
                            delay_s=_seconds(first["created_at"], held["received_at"]) if held else None,
                        )
                        matched.add(slot)
                        break
                if row["delivered"]:
                    totals["delivered"] += 1
                    totals["duplicated"] += row["copies"] - 1
                slots_out.append(row)
        totals["expected_alerts"] += expected_alerts
        totals["alerts"] += len(alerts)
        for slot, notes in notes_by_slot.items():
            if slot not in matched:
                totals["unexpected"] += len(notes)
    totals["lost"] = totals["expected"] - totals["delivered"]
    delays = [row["delay_s"] * 1000.0 for row in slots_out if row["delay_s"] is not None]
    return {
        "totals": dict(totals),
        "delay_ms": {
            "n": len(delays),
            "p50": percentile(delays, 0.5),
            "p95": percentile(delays, 0.95),
            "max": max(delays) if delays else None,
        },
        "slots": slots_out,
    }


def settle(
    base_url: str,
    ledger: dict,
    max_wait_s: float,
    poll_s: float = 0.5,
    on_poll: Callable[[dict], None] | None = None,
    api_key: str = "",
) -> tuple[dict, dict]:
    """Read back until nothing expected is missing or ``max_wait_s`` has passed; returns (snapshot, meta)."""
    target_ids = [stream["target_id"] for stream in ledger.get("streams", [])]
    session = requests.Session()
    if api_key:  # the key the streams' targets were created with: another tenant would see none of them
        session.headers["Authorization"] = f"Bearer {api_key}"
    started = time.time()
    polls = 0
    while True:
        snapshot = fetch_snapshot(session, base_url, target_ids)
        polls += 1
        outcome = account(ledger, snapshot)
        if on_poll:
            on_poll(outcome)
        if outcome["totals"].get("lost", 0) == 0 or time.time() - started >= max_wait_s:
            break
        time.sleep(poll_s)
    return snapshot, {
        "settle_s": time.time() - started,
        "polls": polls,
        "max_wait_s": max_wait_s,
        "settled": outcome["totals"].get("lost", 0) == 0,
        "read_at": time.time(),
    }


def write_snapshot(path: Path, snapshot: dict) -> None:
    with gzip.open(path, "wt") as handle:
        json.dump(snapshot, handle)


def read_snapshot(path: Path) -> dict:
    with gzip.open(path, "rt") as handle:
        return json.load(handle)
