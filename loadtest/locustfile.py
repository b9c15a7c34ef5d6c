"""Locust scenarios against the public API of any variant.

One function per user action, weighted tasks (in the style of GoogleCloudPlatform/microservices-demo's
loadgenerator). Three user classes, one per scenario:

- ``CrudUser`` (tag ``crud``): the target lifecycle — create, read, list, delete;
- ``IngestUser`` (tag ``ingest``): a stream of check results following the deterministic pattern of
  :mod:`loadtest.pattern`, so the alerts and notifications to expect are known in advance;
- ``MixedUser`` (tag ``mixed``): reads, the same result stream, and occasional writes.

Select a scenario with ``LOADTEST_SCENARIO=crud|ingest|mixed`` (the other classes are removed), or
name the user class on the command line (``locust -f loadtest/locustfile.py IngestUser``), or use
``--tags``. Examples::

    LOADTEST_SCENARIO=ingest LOADTEST_USER_RATE=2 locust -f loadtest/locustfile.py --headless \
        -u 10 -r 10 -t 10s --host http://127.0.0.1:8000 --csv /tmp/ingest

Environment:

- ``LOADTEST_API_KEY``: sent as ``Authorization: Bearer <key>`` on every request (``run_locust`` passes the
  running variant's key; none for the HTTP ceiling, which checks none).
- ``LOADTEST_USER_RATE``: task runs per second per user (``constant_throughput``; default 1). The
  offered rate is users × this rate, one request per task.
- ``LOADTEST_REQUEST_LOG``: write every request (start, response time, name, ok, status) to this CSV.
- ``LOADTEST_LEDGER``: write the result streams (targets, rule parameters, every post and its
  outcome) to this JSON file, so the harness can compute the expected notifications.
- ``LOADTEST_CONTROL``, ``LOADTEST_STREAM_DIR``: capacity mode, locust driven live by the harness
  (:mod:`loadtest.locust_live`).
- ``LOADTEST_RUN_TAG``: makes target names unique across runs (default: random).
- ``LOADTEST_WEBHOOK_URL``: the webhook URL of every stream target (default: none, notifications are logged only).
- ``LOADTEST_RETRIES``: how often a result post answered 503 or 504, or whose connection dropped, is sent
  again with the same idempotency key, as a real client would (default 0; the fault scenarios use 3), after
  ``LOADTEST_RETRY_BACKOFF_S`` (default 0.25) doubling each time. Every attempt is a request of the request log;
  the ledger keeps the final answer, the number of attempts and the first answer of each post.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from locust import FastHttpUser, events, tag, task  # noqa: E402
from locust.exception import StopUser  # noqa: E402, F401 - re-exported for custom scenarios
from locust.user.wait_time import constant_throughput  # noqa: E402

from loadtest import locust_live  # noqa: E402
from loadtest.pattern import RESULTS_PER_TARGET, params_for, result_for  # noqa: E402
from loadtest.stats import write_request_log  # noqa: E402
from shared.domain import RuleParams, iso, utcnow  # noqa: E402
from shared.rules import RuleState, evaluate  # noqa: E402

SCENARIO = os.environ.get("LOADTEST_SCENARIO", "").strip()
USER_RATE = float(os.environ.get("LOADTEST_USER_RATE", "1"))
RUN_TAG = os.environ.get("LOADTEST_RUN_TAG") or uuid.uuid4().hex[:8]
REQUEST_LOG = os.environ.get("LOADTEST_REQUEST_LOG")
LEDGER = os.environ.get("LOADTEST_LEDGER")
PROBE_URL = "http://127.0.0.1:9/never-probed"
WEBHOOK_URL = os.environ.get("LOADTEST_WEBHOOK_URL") or None
RETRIES = int(os.environ.get("LOADTEST_RETRIES", "0"))
API_KEY = os.environ.get("LOADTEST_API_KEY", "")
RETRY_BACKOFF_S = float(os.environ.get("LOADTEST_RETRY_BACKOFF_S", "0.25"))
RETRIED_STATUSES = frozenset({0, 503, 504})  # 0: no answer (connection refused, dropped, timed out)

_requests: list[tuple] = []
locust_live.install(_requests)
_streams: dict[str, dict] = {}
_stream_numbers = itertools.count()
_names = itertools.count()


def _tag() -> str:
    """Unique per run and per locust process (``--processes`` workers each count their own targets from 0)."""
    return RUN_TAG if os.getpid() == _IMPORT_PID else f"{RUN_TAG}-{os.getpid()}"


_IMPORT_PID = os.getpid()


@events.request.add_listener
def _log_request(request_type, name, response_time, response_length, exception=None, response=None, start_time=None, **_kw):
    status = getattr(response, "status_code", 0) or 0
    started = start_time or time.time() - response_time / 1000.0
    if locust_live.STREAM_DIR:
        started = locust_live.started(started)
    _requests.append((started, response_time, name, exception is None, int(status)))


_environment = None


@events.init.add_listener
def _remember_environment(environment, **_kw):
    global _environment
    _environment = environment


@events.quit.add_listener
def _write_final_csv(exit_code, **_kw):
    """Locust's own CSV once more, after the runner stopped: its periodic writer runs once a second and does not
    write at exit, so ``PREFIX_stats.csv`` can miss the last second (or, for a very short run, everything)."""
    prefix = getattr(getattr(_environment, "parsed_options", None), "csv_prefix", None)
    if not prefix or _environment is None:
        return
    import csv

    from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

    writer = StatsCSV(_environment, PERCENTILES_TO_REPORT)
    with open(f"{prefix}_final_stats.csv", "w", newline="") as handle:
        writer.requests_csv(csv.writer(handle))
    with open(f"{prefix}_final_failures.csv", "w", newline="") as handle:
        writer.failures_csv(csv.writer(handle))


@events.quitting.add_listener
def _write_outputs(environment, **_kw):
    if REQUEST_LOG:
        write_request_log(Path(REQUEST_LOG), _requests)
    if LEDGER:
        streams = [{k: v for k, v in stream.items() if not k.startswith("_")} for stream in _streams.values()]
        Path(LEDGER).write_text(json.dumps({"run_tag": RUN_TAG, "streams": streams}))


# --------------------------------------------------------------------------- user actions


class ApiUser(FastHttpUser):
    """Common plumbing: paced tasks, a random start offset, bounded timeouts, the user's own targets."""

    abstract = True
    wait_time = constant_throughput(USER_RATE)
    network_timeout = 10.0
    connection_timeout = 5.0
    default_headers = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else None

    def __init__(self, environment) -> None:
        super().__init__(environment)
        if locust_live.STREAM_DIR:
            self.client.request = locust_live.tracked(self.client.request)

    def on_start(self) -> None:
        self.own: list[str] = []  # targets this user created and may delete
        self.stream: dict | None = None
        time.sleep(random.random() / USER_RATE)  # gevent-patched: spreads the users' pacing phases

    # -- helpers

    def _known_target(self) -> str | None:
        choices = self.own + ([self.stream["target_id"]] if self.stream else [])
        return random.choice(choices) if choices else None

    def _create(self, body: dict) -> str | None:
        with self.client.post("/targets", json=body, name="POST /targets", catch_response=True) as resp:
            if resp.status_code == 201:
                resp.success()
                return resp.json()["id"]
            resp.failure(f"status {resp.status_code}")
        return None

    # -- actions (each one request)

    def create_target(self) -> None:
        target_id = self._create({"name": f"crud-{_tag()}-{next(_names)}", "url": "https://example.com/health", "interval_s": 30})
        if target_id:
            self.own.append(target_id)

    def get_target(self) -> None:
        target_id = self._known_target()
        if target_id is None:
            return self.create_target()
        self.client.get(f"/targets/{target_id}", name="GET /targets/[id]")

    def list_targets(self) -> None:
        self.client.get("/targets?limit=20", name="GET /targets")

    def delete_target(self) -> None:
        if len(self.own) < 2:
            return self.create_target()
        target_id = self.own.pop(0)
        with self.client.delete(f"/targets/{target_id}", name="DELETE /targets/[id]", catch_response=True) as resp:
            if resp.status_code == 204:
                resp.success()
            else:
                resp.failure(f"status {resp.status_code}")

    def list_results(self) -> None:
        target_id = self._known_target()
        if target_id is None:
            return self.create_target()
        self.client.get(f"/targets/{target_id}/results?limit=20", name="GET /targets/[id]/results")

    def list_alerts(self) -> None:
        target_id = self._known_target()
        self.client.get(f"/alerts?target_id={target_id}" if target_id else "/alerts", name="GET /alerts")

    def list_notifications(self) -> None:
        target_id = self._known_target()
        self.client.get(f"/notifications?target_id={target_id}" if target_id else "/notifications", name="GET /notifications")

    def post_result(self) -> None:
        """The next result of this user's stream (a new stream target after RESULTS_PER_TARGET results)."""
        if self.stream is None or self.stream["next_seq"] >= RESULTS_PER_TARGET:
            self._new_stream()
            if self.stream is None:
                return
        stream = self.stream
        seq = stream["next_seq"]
        stream["next_seq"] += 1
        ok, latency_ms = result_for(stream["k"], seq)
        state_after, transitions = evaluate(stream["_state"], ok, latency_ms, stream["_params"])
        checked_at = iso(utcnow())
        body = {"ok": ok, "latency_ms": latency_ms, "status_code": 200 if ok else 503, "checked_at": checked_at, "id": f"s{seq}"}
        started = time.time()
        result_id, first_status = None, None
        for attempt in range(1, RETRIES + 2):
            status, result_id = self._post_result(stream["target_id"], body)
            first_status = status if first_status is None else first_status
            if status not in RETRIED_STATUSES or attempt > RETRIES:
                break
            time.sleep(RETRY_BACKOFF_S * 2 ** (attempt - 1))  # the same body: the same idempotency key
        if status == 202:
            stream["_state"] = state_after
        stream["posts"].append(
            [seq, checked_at, status, result_id, started, time.time(), bool(transitions), attempt, first_status]
        )

    def _post_result(self, target_id: str, body: dict) -> tuple[int, str | None]:
        """One attempt: the status (0 without an answer) and the result id of a 202."""
        with self.client.post(
            f"/targets/{target_id}/results", json=body, name="POST /targets/[id]/results", catch_response=True
        ) as resp:
            status = resp.status_code or 0
            if status != 202:
                resp.failure(f"status {status}")
                return status, None
            resp.success()
            try:
                return status, resp.json()["id"]
            except (ValueError, KeyError, TypeError):
                return status, None

    def _new_stream(self) -> None:
        k = next(_stream_numbers)
        params = params_for(k)
        if WEBHOOK_URL:
            params = dataclasses.replace(params, webhook_url=WEBHOOK_URL)
        body = {
            "name": f"stream-{_tag()}-{k}",
            "url": PROBE_URL,
            "interval_s": 60,
            "failure_threshold": params.failure_threshold,
            "latency_threshold_ms": params.latency_threshold_ms,
            "webhook_url": params.webhook_url,
        }
        target_id = self._create(body)
        if target_id is None:
            self.stream = None
            return
        self.stream = {
            "target_id": target_id,
            "k": k,
            "params": {
                "failure_threshold": params.failure_threshold,
                "latency_threshold_ms": params.latency_threshold_ms,
                "webhook_url": params.webhook_url,
            },
            "posts": [],
            "next_seq": 0,
            "_state": RuleState(),
            "_params": RuleParams(params.failure_threshold, params.latency_threshold_ms, params.webhook_url),
        }
        _streams[target_id] = self.stream


# --------------------------------------------------------------------------- scenarios


class CrudUser(ApiUser):
    """Target lifecycle."""

    @tag("crud")
    @task(3)
    def create(self) -> None:
        self.create_target()

    @tag("crud")
    @task(4)
    def read(self) -> None:
        self.get_target()

    @tag("crud")
    @task(2)
    def browse(self) -> None:
        self.list_targets()

    @tag("crud")
    @task(2)
    def delete(self) -> None:
        self.delete_target()


class IngestUser(ApiUser):
    """A stream of results with a deterministic failure pattern."""

    @tag("ingest")
    @task
    def ingest(self) -> None:
        self.post_result()


class MixedUser(ApiUser):
    """Reads, the result stream and occasional writes."""

    @tag("mixed")
    @task(6)
    def read_target(self) -> None:
        self.get_target()

    @tag("mixed")
    @task(2)
    def read_targets(self) -> None:
        self.list_targets()

    @tag("mixed")
    @task(2)
    def read_results(self) -> None:
        self.list_results()

    @tag("mixed")
    @task(1)
    def read_alerts(self) -> None:
        self.list_alerts()

    @tag("mixed")
    @task(1)
    def read_notifications(self) -> None:
        self.list_notifications()

    @tag("mixed")
    @task(6)
    def ingest(self) -> None:
        self.post_result()

    @tag("mixed")
    @task(1)
    def write_create(self) -> None:
        self.create_target()

    @tag("mixed")
    @task(1)
    def write_delete(self) -> None:
        self.delete_target()


SCENARIOS = {"crud": CrudUser, "ingest": IngestUser, "mixed": MixedUser}

if SCENARIO:
    if SCENARIO not in SCENARIOS:
        raise SystemExit(f"LOADTEST_SCENARIO must be one of {', '.join(SCENARIOS)}, got {SCENARIO!r}")
    for _name, _cls in list(SCENARIOS.items()):
        if _name != SCENARIO:
            del globals()[_cls.__name__]
    del _name, _cls
