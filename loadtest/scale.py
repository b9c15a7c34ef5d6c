"""The scale runs: the capacity search on a variant started on PostgreSQL with n copies of every process, its CPU
sampled per process KIND (what :mod:`loadtest.scale_model` turns into CPU seconds per 1,000 requests and cores).

The kinds and where their processes come from:

- ``api``, ``monitor``, ``alerting``, ``notification``, ``balancer``: the variant's processes (every replica, with its
  children: gunicorn's worker) by their topology name, as ``RunningVariant.processes`` holds them (a monolith is all
  ``api``: its services run inside it);
- ``broker``: the local RabbitMQ node (its ``beam.smp``), event-split only (:func:`loadtest.sampler.broker_pids`);
- ``database``: PostgreSQL, found in ``pg_stat_activity`` every second: the backends connected to the run's databases
  (``RunningVariant.databases``; autovacuum workers on them included), the server's shared background processes
  (those with no database: WAL writer, checkpointer, background writer, autovacuum and logical replication launchers)
  and the postmaster itself (its own CPU only, not its children: the backends of other databases are not counted);
- ``generator``: the locust processes (master and workers), sampled as in every run.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from harness.databases import admin_url
from harness.launcher import RunningVariant
from loadtest.capacity import SearchPlan, outcome_of
from loadtest.options import Options
from loadtest.rawdata import write_json
from loadtest.scale_model import VARIANT_KINDS
from loadtest.steps import run_search

SCALE_FILE = "scale.json"
DATABASE_SOURCE = (
    "PostgreSQL: backends of the run's databases (pg_stat_activity), the server's background processes "
    "(WAL writer, checkpointer, background writer, launchers) and the postmaster's own CPU"
)


class DatabasePids:
    """The PostgreSQL processes serving ``databases`` now (a sampler pid source, roots only: ``recursive = False``)."""

    recursive = False

    def __init__(self, databases: list[str], refresh_s: float = 1.0, url: str | None = None):
        self.databases = list(databases)
        self.refresh_s = refresh_s
        self.url = url or admin_url()
        self._conn = None
        self._pids: list[int] = []
        self._at = 0.0
        self.error: str | None = None

    def __call__(self) -> list[int]:
        if self.error is None and time.monotonic() - self._at >= self.refresh_s:
            self._at = time.monotonic()
            try:
                self._pids = self._query()
            except Exception as error:  # noqa: BLE001 - the kind is reported as not measured, the run goes on
                self.error = f"{type(error).__name__}: {error}"[:300]
                self._pids = []
        return self._pids

    def _query(self) -> list[int]:
        import psycopg

        if self._conn is None:
            self._conn = psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True,
                                         connect_timeout=5)
        rows = self._conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE (datname = ANY(%s) OR datname IS NULL) AND pid <> pg_backend_pid()",
            (self.databases,),
        ).fetchall()
        pids = sorted({row[0] for row in rows})
        if pids:
            try:
                pids.append(psutil.Process(pids[0]).ppid())  # the postmaster
            except psutil.Error:
                pass
        return sorted(set(pids))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def kind_sources(rv: RunningVariant) -> dict:
    """A pid source per process kind of the variant (every replica of it), the balancer included when there is one."""

    def of(kind: str):
        return lambda: [p.popen.pid for p in rv.processes.values() if p.spec.name == kind and p.popen.poll() is None]

    present = {p.spec.name for p in rv.processes.values()}
    return {kind: of(kind) for kind in VARIANT_KINDS if kind in present}


def step_scale(
    options: Options, rv: RunningVariant, outdir: Path, scenario: str, with_broker: bool, start_rps: float | None
) -> tuple[str, float | None]:
    """One scale run's capacity search; returns the brief and the capacity found (offered rps), the next search's start."""
    plan = SearchPlan(
        start_rps or options.capacity_start,
        options.capacity_factor,
        options.scale_refine,
        options.capacity_user_rate,
        options.capacity_max_steps,
    )
    groups = kind_sources(rv)
    database = DatabasePids(rv.databases)
    groups["database"] = database
    outdir.mkdir(parents=True, exist_ok=True)
    meta = {
        "replicas": rv.replicas,
        "start_rps": plan.start_rps,
        "refine": plan.refine,
        "databases": rv.databases,
        "database_source": DATABASE_SOURCE,
        "processes": {name: {"kind": p.spec.name, "pid": p.popen.pid} for name, p in rv.processes.items()},
        "kinds": sorted([*groups, *(["broker"] if with_broker else []), "generator"]),
    }
    try:
        record = run_search(options, rv, outdir, scenario, with_broker, plan, groups)
    finally:
        database.close()
        write_json(outdir / SCALE_FILE, {**meta, "database_error": database.error})
    if not record or not record.get("steps"):
        return "no steps recorded", None
    found = outcome_of(record["steps"]).get("capacity_offered_rps") or None
    held = f"{found:g} rps offered held" if found else "no step held"
    return f"×{rv.replicas}: {held}; {len(record['steps'])} steps; stopped: {record.get('stopped')}", found
