"""Run the plan: start each variant, run its steps, stop it; one step failing never stops the run.

Everything measured is written under ``OUT/raw/<run-id>/`` (renamed ``OUT/raw/latest`` when the run
completes); ``run.json`` records the options, the plan and every step's status and timing as the run goes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from harness.launcher import LaunchError, RunningVariant, start
from harness.topology import VARIANTS
from loadtest import envinfo, network, pattern, traced_pass
from loadtest.availability import launch_reason, redact, unavailable
from loadtest.options import DATABASE, DATABASE_FAULTS, Options
from loadtest.outputs import build_outputs, make_latest, run_migration_diff
from loadtest.plan import Progress, Step, fmt_duration, make_plan
from loadtest.rawdata import copy_log_tails, write_json
from loadtest.scale import step_scale
from loadtest.steps import step_capacity, step_ceiling, step_faults, step_fixed, step_floors, step_sequential


def execute(options: Options) -> int:
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    raw_root = options.out / "raw"
    raw = raw_root / run_id
    raw.mkdir(parents=True, exist_ok=True)

    broker_error, not_run = unavailable(options)
    runnable = [v for v in options.variants if v not in not_run]
    plan = make_plan(options, runnable)
    total = sum(s.est_s for s in plan)
    print_header(options, run_id, raw, runnable, not_run, plan, total)

    env = envinfo.collect(options.rabbitmq_url if broker_error is None else None)
    write_json(raw / "env.json", env)
    run_meta = {
        "run_id": run_id,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "started": time.time(),
        "planned_total_s": total,
        "broker_error": broker_error,
        "rabbitmq_url": redact(options.rabbitmq_url),
        "not_run": not_run,
        "variants": options.variants,
        "runnable": runnable,
        "scenarios": options.scenarios,
        "pattern": {"results_per_target": pattern.RESULTS_PER_TARGET, "latency_threshold_ms": pattern.LATENCY_THRESHOLD_MS},
    }
    write_json(raw / "run.json", {**run_meta, "steps": [asdict(s) for s in plan]})

    progress = Progress(plan)
    runner = Runner(options, raw, plan, progress, broker_error, run_meta)
    interrupted = runner.run()

    run_meta["not_run"].update({v: why for v, why in runner.failed_start.items()})
    if interrupted:
        run_meta["interrupted"] = True
        write_json(raw / "run.json", {**run_meta, "ended": time.time(), "steps": [asdict(s) for s in plan]})
        return 130

    finish(options, raw, plan, progress, run_meta)
    print(f"[{fmt_duration(time.monotonic() - progress.started)} elapsed] done: {options.out / 'REPORT.md'}", flush=True)
    return 0


def print_header(
    options: Options, run_id: str, raw: Path, runnable: list[str], not_run: dict[str, str], plan: list[Step], total: float
) -> None:
    print(f"compare run {run_id} → {raw}", flush=True)
    print(f"  variants: {', '.join(runnable) or '(none)'}" + "".join(f"\n  {v}: {why}" for v, why in not_run.items()), flush=True)
    counts: dict[str, int] = {}
    for s in plan:
        counts[s.kind] = counts.get(s.kind, 0) + 1
    print(
        "  plan: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + f"; {options.reps} repetition(s), fixed rate "
        f"{options.rate:g} rps × {options.fixed_s:g} s, capacity search from {options.capacity_start:g} rps ×"
        f"{options.capacity_factor:g} then {options.capacity_refine} bisection(s), {options.capacity_step_s:g} s steps, "
        f"{options.capacity_processes} locust process(es)",
        flush=True,
    )
    print(
        f"  planned total ≈ {fmt_duration(total)} (budget {fmt_duration(options.budget_s)})"
        + ("  ** over budget **" if total > options.budget_s else ""),
        flush=True,
    )


def finish(options: Options, raw: Path, plan: list[Step], progress: Progress, run_meta: dict) -> None:
    """The report step: the migration diff, the final run.json, ``raw/latest``, then the outputs."""
    report_step = plan[-1]
    progress.show(len(plan) - 1)
    began = time.monotonic()
    migration = (
        run_migration_diff(raw, options.out, 30.0 if options.quick else 90.0)
        if options.migration_diff
        else {"status": "not run", "reason": "disabled for this run"}
    )
    run_meta["migration_diff"] = migration
    report_step.status = "ok"
    report_step.actual_s = time.monotonic() - began
    report_step.brief = f"migration diff: {migration['status']}"
    write_json(
        raw / "run.json",
        {**run_meta, "ended": time.time(), "elapsed_s": time.monotonic() - progress.started, "steps": [asdict(s) for s in plan]},
    )
    make_latest(raw, options.out / "raw")
    build_outputs(options.out)


class Runner:
    """Walks the plan up to the report step; holds the running variant and what to skip."""

    def __init__(
        self, options: Options, raw: Path, plan: list[Step], progress: Progress, broker_error: str | None, run_meta: dict
    ):
        self.options = options
        self.raw = raw
        self.plan = plan
        self.progress = progress
        self.broker_error = broker_error
        self.run_meta = run_meta
        self.rv: RunningVariant | None = None
        self.data_dir: Path | None = None
        self.skip: tuple | None = None
        self.failed_start: dict[str, str] = {}
        self.scale_found: dict[str, float] = {}  # variant -> capacity (offered rps) of its last scale search
        # (variant or "ceiling", scenario) -> capacity (offered rps) its last search found: the next repetition's start
        self.capacity_found: dict[tuple[str, str], float] = {}

    def run(self) -> bool:
        """Run every step before the report; True when interrupted (Ctrl-C)."""
        interrupted = False
        try:
            for index, step in enumerate(self.plan):
                if step.kind == "report":
                    break
                if self.skipped(index, step):
                    continue
                self.run_step(index, step)
                write_json(self.raw / "run.json", {**self.run_meta, "steps": [asdict(s) for s in self.plan]})
        except KeyboardInterrupt:
            interrupted = True
            print("interrupted: stopping the running variant; raw data so far stays in " + str(self.raw), flush=True)
        finally:
            if self.rv is not None:
                self.rv.stop()
            if self.data_dir and not self.options.keep_data:
                shutil.rmtree(self.data_dir, ignore_errors=True)
        return interrupted

    def skipped(self, index: int, step: Step) -> bool:
        """Mark ``step`` skipped when its variant failed to start or died, or the budget guard drops it."""
        block = step.block
        if step.variant in self.failed_start and step.kind != "stop":
            step.status, step.reason = "skipped", self.failed_start[step.variant]
            return True
        if self.skip == block and step.kind != "stop":
            step.status = "skipped"
            step.reason = step.reason or "variant not running"
            return True
        if step.kind == "stop" and (self.rv is None or self.skip == block):
            step.status = "skipped"
            return True
        if step.kind in ("capacity", "ceiling", "scale") and self.options.budget_guard:
            projected = time.monotonic() - self.progress.started + self.progress.remaining(index)
            if projected > self.options.budget_s:
                step.status = "skipped"
                step.reason = (
                    f"skipped to stay within the time budget (projected {fmt_duration(projected)} > "
                    f"{fmt_duration(self.options.budget_s)})"
                )
                Progress.note(f"{step.label}: {step.reason}")
                return True
        return False

    def run_step(self, index: int, step: Step) -> None:
        self.progress.show(index, f" ({step.est_s:.0f} s planned)")
        began = time.monotonic()
        try:
            if step.kind == "floors":
                step.dir = str((self.raw / "floors" / f"rep{step.rep}").relative_to(self.raw))
                step.brief = step_floors(self.options, self.raw / "floors" / f"rep{step.rep}", self.broker_error)
            elif step.kind == "ceiling":
                sub = self.raw / "ceiling" / f"rep{step.rep}" / f"capacity-{step.scenario}"
                step.dir = str(sub.relative_to(self.raw))
                key = ("ceiling", step.scenario)
                step.brief, found = step_ceiling(self.options, sub, step.scenario, self.capacity_found.get(key))
                if found:
                    self.capacity_found[key] = found
            elif step.kind == "traces":
                sub = self.raw / str(step.variant) / "traces"
                step.dir = str(sub.relative_to(self.raw))
                step.brief = traced_pass.run(self.options, str(step.variant), sub)
            elif step.kind == "start":
                self.start_variant(step, began)
            elif step.kind == "stop":
                self.stop_variant(step)
            else:
                self.measure(step)
            step.status = "ok"
        except Exception as error:  # noqa: BLE001 - one step failing never stops the run
            step.status = "failed"
            step.reason = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            if not isinstance(error, RuntimeError):
                (self.raw / "errors.log").open("a").write(f"--- {step.label}\n{traceback.format_exc()}\n")
        step.actual_s = time.monotonic() - began
        if step.status == "ok" and step.brief:
            Progress.note(step.brief)
        elif step.status == "failed":
            Progress.note(f"FAILED: {step.reason}")

    def outdir(self, step: Step) -> Path:
        if step.rtt_ms is not None:
            return self.raw / step.variant / "network" / network.rtt_dir(step.rtt_ms)
        if step.replicas is not None:
            return self.raw / step.variant / "scale" / f"replicas{step.replicas}"
        return self.raw / (step.variant or "floors") / f"rep{step.rep}"

    def start_variant(self, step: Step, began: float) -> None:
        outdir = self.outdir(step)
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"compare-{step.variant}-"))
        scaled = {"replicas": step.replicas, "database": "postgres"} if step.replicas is not None else {}
        if step.rtt_ms is not None:
            scaled["network_delay_ms"] = step.rtt_ms
        try:
            self.rv = rv = start(
                step.variant, data_dir=self.data_dir, rabbitmq_url=self.options.rabbitmq_url, ready_timeout_s=45, **scaled
            )
        except (LaunchError, ValueError, OSError) as error:
            reason = f"failed to start: {launch_reason(error)}"
            self.skip = step.block
            write_json(outdir / "start.json", {"error": str(error)[-4000:]})
            if step.replicas is not None or step.rtt_ms is not None:  # a scale or network run: the others still run
                raise RuntimeError(reason) from None
            reason = f"not run: {reason}"
            self.failed_start[step.variant] = reason
            write_json(outdir / "start.json", {"error": str(error)[-4000:]})
            raise RuntimeError(reason) from None
        step.brief = f"{rv.base_url}, pids " + ", ".join(f"{n}={p.popen.pid}" for n, p in rv.processes.items())
        write_json(
            outdir / "start.json",
            {
                "base_url": rv.base_url,
                "startup_s": time.monotonic() - began,
                "processes": {n: {"pid": p.popen.pid, "port": p.port, "kind": p.spec.name} for n, p in rv.processes.items()},
                "replicas": rv.replicas,
                "databases": rv.databases,
                "network_delay_ms": step.rtt_ms,
            },
        )

    def stop_variant(self, step: Step) -> None:
        rv = self.rv
        assert rv is not None
        if any(s.status == "failed" or s.kind == "faults" for s in self.plan if s.block == step.block):
            copy_log_tails(rv, self.outdir(step))
        rv.stop()
        self.rv = None
        if self.data_dir and not self.options.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        elif self.data_dir:
            Progress.note(f"data kept in {self.data_dir}")
        self.data_dir = None

    def measure(self, step: Step) -> None:
        """A sequential, fixed-rate, capacity or fault step on the running variant."""
        rv = self.rv
        assert rv is not None
        dead = [n for n, p in rv.processes.items() if p.popen.poll() is not None]
        if dead:
            self.skip = step.block
            raise RuntimeError(f"{', '.join(dead)} exited; the rest of this repetition is skipped")
        with_broker = VARIANTS[step.variant].needs_broker
        outdir = self.outdir(step)
        sub = outdir / (step.kind if not step.scenario or step.kind == "faults" else f"{step.kind}-{step.scenario}")
        step.dir = str(sub.relative_to(self.raw))
        if step.kind == "sequential":
            options = self.options if step.rtt_ms is None else network.sequential_options(self.options)
            step.brief = step_sequential(options, rv, sub)
        elif step.kind == "fixed":
            step.brief = step_fixed(self.options, rv, sub, step.scenario, with_broker)
        elif step.kind == "capacity":
            key = (step.variant, step.scenario) if step.rtt_ms is None else (step.variant, step.scenario, "network")
            start_rps = self.capacity_found.get(key) or self.capacity_found.get(key[:2])  # network: else the reps'
            step.brief, found = step_capacity(self.options, rv, sub, step.scenario, with_broker, start_rps)
            if found:
                self.capacity_found[key] = found
        elif step.kind == "faults":
            plan = DATABASE_FAULTS if step.scenario == DATABASE else None
            step.brief = step_faults(self.options, rv, sub, with_broker, plan)
        elif step.kind == "scale":
            start_rps = self.scale_found.pop(step.variant, None) if step.replicas > min(self.options.scale_replicas) else None
            step.brief, found = step_scale(self.options, rv, sub, step.scenario, with_broker, start_rps)
            if found:
                self.scale_found[step.variant] = found
