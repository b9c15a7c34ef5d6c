"""``REPORT.md`` and the PNG charts, filled from ``summary.json`` (itself computed from the raw files).

Nothing here is a measured constant: every number printed comes from the summary, every sentence
that depends on the run is conditional on it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from harness.topology import VARIANTS

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_TEXT = {
    "crud": "target lifecycle (create, read, list, delete)",
    "ingest": "result stream with a deterministic failure pattern",
    "mixed": "reads + result stream + occasional writes",
}
FAULT_TEXT = {"notification": "notification service stopped", "alerting": "alerting service stopped"}


# --------------------------------------------------------------------------- formatting


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def fmt(block: dict | None, digits: int = 1, scale: float = 1.0, suffix: str = "") -> str:
    """``median (min–max)`` of a spread block, or just the value when there is one repetition."""
    if not block or block.get("median") is None:
        return "–"
    med, lo, hi = (block[k] * scale for k in ("median", "min", "max"))
    text = _num(med, digits) + suffix
    if block.get("n", 0) > 1:
        text += f" ({_num(lo, digits)}–{_num(hi, digits)})"
    return text


def pct(block: dict | None, digits: int = 1) -> str:
    return fmt(block, digits, 100.0, "%")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _rel(path: Path | str, base: Path) -> str:
    """``path`` (absolute, or relative to ``base`` as summary.json stores it) relative to ``base``."""
    return os.path.relpath(_abs(path, base), base)


def _abs(path: Path | str, base: Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else base / path


# --------------------------------------------------------------------------- charts


def _charts(out: Path, summary: dict) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: dict[str, str] = {}
    variants = [v for v in summary["variants"] if v not in summary["not_run"]]
    scenarios = summary["scenarios"]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    def bars(ax, groups: list[str], series: list[tuple[str, list[dict | None]]], scale: float = 1.0, ylabel: str = "") -> None:
        width = 0.8 / max(1, len(series))
        for i, (name, blocks) in enumerate(series):
            xs, ys, lo, hi = [], [], [], []
            for j, block in enumerate(blocks):
                if block and block.get("median") is not None:
                    xs.append(j + i * width - 0.4 + width / 2)
                    ys.append(block["median"] * scale)
                    lo.append((block["median"] - block["min"]) * scale)
                    hi.append((block["max"] - block["median"]) * scale)
            if xs:
                ax.bar(xs, ys, width, label=name, color=colors[i % len(colors)], yerr=[lo, hi], capsize=2)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)

    fixed = summary["fixed"]
    if fixed:
        fig, axes = plt.subplots(1, len(scenarios), figsize=(4.5 * len(scenarios), 4), squeeze=False)
        for ax, scenario in zip(axes[0], scenarios, strict=True):
            series = [(p, [fixed.get(v, {}).get(scenario, {}).get(f"{p}_ms") for v in variants]) for p in ("p50", "p95", "p99")]
            bars(ax, variants, series, ylabel="ms")
            ax.set_title(f"{scenario} @ {summary['options'].get('rate', 0):g} rps", fontsize=10)
            ax.legend(fontsize=7)
        fig.suptitle("Latency at a fixed offered rate (median of repetitions, bars = min–max)", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "latency.png", dpi=110)
        plt.close(fig)
        made["latency"] = "latency.png"

        fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
        series = [(s, [fixed.get(v, {}).get(s, {}).get("cpu_s_per_1k") for v in variants]) for s in scenarios]
        bars(axes[0][0], variants, series, ylabel="CPU seconds per 1,000 requests")
        axes[0][0].set_title("CPU per request (all the variant's processes)", fontsize=10)
        axes[0][0].legend(fontsize=7)
        series = [(s, [fixed.get(v, {}).get(s, {}).get("peak_rss_mb") for v in variants]) for s in scenarios]
        bars(axes[0][1], variants, series, ylabel="MB")
        axes[0][1].set_title("Peak RSS summed over the variant's processes", fontsize=10)
        axes[0][1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "resources.png", dpi=110)
        plt.close(fig)
        made["resources"] = "resources.png"

        stream = [s for s in scenarios if s in ("ingest", "mixed")]
        seq = summary["sequential"]
        if stream or seq:
            fig, ax = plt.subplots(figsize=(8, 4))
            series = [(f"{s} p50", [fixed.get(v, {}).get(s, {}).get("delay_p50_ms") for v in variants]) for s in stream]
            series += [(f"{s} p95", [fixed.get(v, {}).get(s, {}).get("delay_p95_ms") for v in variants]) for s in stream]
            if seq:
                series.append(("sequential probe p50", [seq.get(v, {}).get("alert_delay_p50_ms") for v in variants]))
            bars(ax, variants, series, ylabel="ms")
            ax.set_title("Result received → notification created (server timestamps)", fontsize=10)
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(out / "alert_delay.png", dpi=110)
            plt.close(fig)
            made["alert_delay"] = "alert_delay.png"

    capacity = summary["capacity"]
    if capacity:
        fig, ax = plt.subplots(figsize=(8, 4))
        series = [(s, [capacity.get(v, {}).get(s, {}).get("capacity_rps") for v in variants]) for s in scenarios]
        bars(ax, variants, series, ylabel="requests/s")
        ax.set_title(f"Capacity: highest step with p95 < {summary['options'].get('slo_ms', 0):g} ms and errors < 1%", fontsize=10)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "capacity.png", dpi=110)
        plt.close(fig)
        made["capacity"] = "capacity.png"

    seq = summary["sequential"]
    if seq:
        fig, ax = plt.subplots(figsize=(8, 4))
        names = [v for v in variants if v in seq]
        series = [(f"{k} p50", [seq[v].get(f"{k}_p50_ms") for v in names]) for k in ("get", "post")]
        series += [(f"{k} p95", [seq[v].get(f"{k}_p95_ms") for v in names]) for k in ("get", "post")]
        bars(ax, names, series, ylabel="ms")
        for i, (transport, floor) in enumerate(summary["floors"].items()):
            med = floor.get("p50_ms", {}).get("median")
            if med is not None:
                ax.axhline(med, linestyle="--", linewidth=1, color=colors[(i + 4) % len(colors)], label=f"{transport} floor p50")
        ax.set_title("Sequential round trips (one client) and transport floors", fontsize=10)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "sequential.png", dpi=110)
        plt.close(fig)
        made["sequential"] = "sequential.png"

    faults = summary["faults"]
    if faults:
        names = list(faults)
        services = ["notification", "alerting"]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
        width = 0.35
        for i, service in enumerate(services):
            rates = [(faults[v]["services"].get(service, {}).get("window_error_rate") or 0) * 100 for v in names]
            axes[0][0].bar([j + (i - 0.5) * width for j in range(len(names))], rates, width, label=service, color=colors[i])
            lost = [faults[v]["services"].get(service, {}).get("lost") or 0 for v in names]
            dup = [faults[v]["services"].get(service, {}).get("duplicated") or 0 for v in names]
            xs = [j + (i - 0.5) * width for j in range(len(names))]
            axes[0][1].bar(xs, lost, width / 2, label=f"{service}: lost", color=colors[i])
            axes[0][1].bar(
                [x + width / 2 for x in xs], dup, width / 2, label=f"{service}: duplicated", color=colors[i], alpha=0.45
            )
        for ax in axes[0]:
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, fontsize=8)
            ax.grid(axis="y", alpha=0.3)
            ax.legend(fontsize=7)
        heights = [bar.get_height() for bar in axes[0][1].patches]
        axes[0][1].set_ylim(0, max(1.0, max(heights, default=0) * 1.25))
        for bar in axes[0][1].patches:
            axes[0][1].annotate(
                f"{bar.get_height():.0f}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        axes[0][0].set_ylim(0, 105)
        axes[0][0].set_ylabel("% of edge requests failed")
        axes[0][0].set_title("Edge errors while the service is down", fontsize=10)
        axes[0][1].set_ylabel("notifications")
        axes[0][1].set_title("Lost and duplicated notifications after recovery", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "faults.png", dpi=110)
        plt.close(fig)
        made["faults"] = "faults.png"
    return made


# --------------------------------------------------------------------------- markdown


def _migration_section(out: Path, summary: dict) -> str:
    mig = summary["migration"]
    run = mig.get("run") or {}
    lines = ["## Migration diff (monolith → split, measured from the code)", ""]
    if run.get("status") == "not run":
        lines += [
            f"This run did not regenerate the migration diff ({run.get('reason')}); below is what `make diff` last wrote.",
            "",
        ]
    elif run.get("status") == "failed":
        lines += [f"Regenerating the migration diff failed ({run.get('reason')}); below is what it last wrote.", ""]
    if not mig.get("section_md"):
        lines.append(
            "Not available: `results/migration/SECTION.md` does not exist yet (`make diff` / "
            "`python -m loadtest.migration_diff` writes it). The seed's claims are compared there."
        )
        return "\n".join(lines)
    section_path = _abs(mig["section_md"], out)
    lines.append(
        f"From [{_rel(section_path, out)}]({_rel(section_path, out)}) (the seed's claims beside the measured diff; "
        + (f"data: [{_rel(mig['json'], out)}]({_rel(mig['json'], out)})" if mig.get("json") else "no migration.json")
        + "). Included verbatim below, links rewritten to this folder."
    )
    lines.append("")
    text = section_path.read_text()
    base = section_path.parent

    referenced: set[Path] = set()

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return match.group(0)
        # SECTION.md is written for results/REPORT.md; accept links relative to its own folder too
        for anchor in (out, base, ROOT / "results"):
            resolved = (anchor / target).resolve()
            if resolved.exists():
                referenced.add(resolved)
                return f"{match.group(1)}({_rel(resolved, out)})"
        return match.group(0)

    text = re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", fix, text)
    text = re.sub(r"^(#{1,5}) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)  # nest under this section
    lines.append(text.strip())
    extra = [c for c in mig.get("charts", []) if _abs(c, out).resolve() not in referenced]
    for chart in extra:
        lines += ["", f"![{Path(chart).stem}]({_rel(chart, out)})"]
    return "\n".join(lines)


def render(out: Path, summary: dict, charts: dict[str, str]) -> str:
    env = summary["env"]
    opts = summary["options"]
    variants = summary["variants"]
    ran = [v for v in variants if v not in summary["not_run"]]
    scenarios = summary["scenarios"]
    raw_rel = _rel(summary["raw_dir"], out)
    md: list[str] = []
    title = "Compare report" + (" — QUICK smoke run (tiny loads, not a reference)" if summary.get("quick") else "")
    md += [
        f"# {title}",
        "",
        f"Generated by `python -m loadtest.compare{' --quick' if summary.get('quick') else ''}` from the raw files in "
        f"[`{raw_rel}/`]({raw_rel}/) (run `{summary['run_id']}`); `summary.json` holds every figure below. "
        f"Rebuild with `python -m loadtest.compare --report-only{' --quick' if summary.get('quick') else ''}`.",
        "",
    ]
    section = summary["migration"].get("section_md")
    if section:
        md += [
            f"The seed's claims are set beside the measured migration (monolith → split, from the code) in the last section, "
            f"taken from [`{_rel(section, out)}`]({_rel(section, out)}).",
            "",
        ]

    # environment
    pk = env.get("packages", {})
    rmq = env.get("rabbitmq", {})
    md += [
        "## Environment",
        "",
        _table(
            ["", ""],
            [
                ["date (UTC)", env.get("date_utc", "–")],
                ["CPU", f"{env.get('cpu_model', '–')}, {env.get('logical_cores', '–')} logical cores"],
                ["memory", f"{(env.get('memory_total_bytes') or 0) / 1024**3:.1f} GiB"],
                ["OS", env.get("os", "–")],
                ["Python", f"{env.get('python', '–')} ({env.get('python_implementation', '')}), SQLite {env.get('sqlite', '–')}"],
                ["packages", ", ".join(f"{k} {v}" for k, v in pk.items() if v)],
                ["RabbitMQ", f"{rmq.get('version') or 'not available'} ({rmq.get('source', '–')})"],
                [
                    "code",
                    f"git {env.get('git_revision') or '(no commit)'}{' + uncommitted changes' if env.get('git_dirty') else ''}",
                ],
                ["load average at start", ", ".join(f"{x:.2f}" for x in env.get("load_average_at_start", []))],
            ],
        ),
        "",
    ]

    # what ran
    md += ["## What ran", ""]
    elapsed = summary.get("elapsed_s")
    md.append(
        f"- {opts.get('reps')} repetition(s), variants interleaved (repetition 1 of every variant, then 2, …; the order "
        f"rotates); medians are quoted with the spread (min–max) when there is more than one repetition."
    )
    md.append(
        f"- Fixed offered rate: {opts.get('rate', 0):g} requests/s for every variant ({opts.get('users')} locust "
        f"`FastHttpUser`s paced with `constant_throughput`), {opts.get('fixed_s', 0):g} s per scenario run."
    )
    if opts.get("capacity"):
        md.append(
            f"- Capacity: offered rate stepped through {', '.join(f'{s:g}' for s in opts.get('capacity_steps', []))} "
            f"requests/s, {opts.get('capacity_step_s', 0):g} s per step ({opts.get('capacity_user_rate', 0):g} requests/s "
            f"per user); the highest step with p95 < {opts.get('slo_ms', 0):g} ms, errors < "
            f"{opts.get('max_error_rate', 0.01):.0%} and at least {opts.get('min_achieved', 0.8):.0%} of the offered "
            f"rate achieved is kept; {opts.get('capacity_per_rep')} scenario(s) per repetition, rotating."
        )
    if opts.get("sequential"):
        md.append(
            f"- Sequential round trips: {opts.get('seq_calls')} calls of each kind after {opts.get('seq_warmup')} "
            f"warm-up calls, in the first {opts.get('seq_reps')} repetition(s)."
        )
    if opts.get("faults"):
        md.append(
            f"- Faults (split variants, last repetition): under the ingest load ({opts.get('fault_rate', 0):g} requests/s) "
            f"the notification service, then the alerting service, is stopped for {opts.get('fault_window_s', 0):g} s "
            f"and restarted."
        )
    md.append(
        f"- A run whose load generator used more than {opts.get('gen_cpu_limit', 0.9):.0%} of one core is invalid and not quoted."
    )
    md.append(
        "- Databases: each variant's embedded default (SQLite files, one per service in split variants), "
        "in a fresh temporary folder for every start."
    )
    md.append(
        "- Result stream targets have no webhook URL, so notifications go to the `log` channel only "
        "(one notification per alert transition)."
    )
    if elapsed is not None:
        md.append(f"- Duration: {elapsed / 60:.1f} min (planned {(summary.get('planned_total_s') or 0) / 60:.1f} min).")
    md.append("")

    not_run_lines = [f"- `{v}`: {why}" for v, why in summary["not_run"].items()]
    failed = [s for s in summary["steps"] if s["status"] in ("failed", "skipped") and s["kind"] != "stop"]
    for s in failed:
        what = " ".join(x for x in (s["variant"], s["kind"], s["scenario"]) if x)
        if s["variant"] in summary["not_run"] and s["status"] == "skipped":
            continue
        not_run_lines.append(f"- rep {s['rep']} {what}: {s['status']}" + (f" — {s['reason']}" if s.get("reason") else ""))
    for v, per in summary["fixed"].items():
        for scenario, block in per.items():
            for inv in block.get("invalid_runs", []):
                not_run_lines.append(f"- rep {inv['rep']} {v} fixed {scenario}: invalid — {inv['reason']}")
    if not opts.get("capacity"):
        not_run_lines.append("- capacity runs: disabled for this run")
    if not opts.get("faults"):
        not_run_lines.append("- fault scenarios: disabled for this run")
    if not opts.get("floors"):
        not_run_lines.append("- transport floors: disabled for this run")
    for transport, floor in summary["floors"].items():
        if floor.get("note"):
            not_run_lines.append(f"- {transport} floor: {floor['note']}")
    md += ["### Not run, failed or invalid", ""] + (not_run_lines or ["Everything planned ran."]) + [""]

    # sequential + floors
    seq = summary["sequential"]
    md += [
        "## Sequential round trips and transport floors",
        "",
        "One client, one request at a time, a reused `requests.Session`. `GET /targets/{id}`; `POST /targets/{id}/results` "
        "with ok results that change no alert. Alert delay: a probe target with `failure_threshold=1` gets alternating "
        "failing and ok results; delay = the failing result's `received_at` → its `alert_opened` notification's "
        "`created_at` (server timestamps, read back through the public API).",
        "",
    ]
    rows = []
    for v in variants:
        if v in summary["not_run"]:
            rows.append([f"`{v}`", summary["not_run"][v], "", "", "", "", ""])
            continue
        b = seq.get(v)
        if not b:
            rows.append([f"`{v}`", "not measured", "", "", "", "", ""])
            continue
        rows.append(
            [
                f"`{v}`",
                fmt(b["get_p50_ms"], 2),
                fmt(b["get_p95_ms"], 2),
                fmt(b["post_p50_ms"], 2),
                fmt(b["post_p95_ms"], 2),
                fmt(b["alert_delay_p50_ms"], 1),
                fmt(b["alert_delay_p95_ms"], 1),
            ]
        )
    calls = {r["calls"] for b in seq.values() for r in b["runs"]}
    delays = {r.get("alert_delay_n") for b in seq.values() for r in b["runs"]} - {None}
    md += [
        _table(
            ["variant", "GET p50 ms", "GET p95 ms", "POST p50 ms", "POST p95 ms", "alert delay p50 ms", "alert delay p95 ms"],
            rows,
        ),
        "",
        f"Calls per kind and run: {', '.join(str(c) for c in sorted(calls)) or '–'}; "
        f"alert-delay samples (alerts opened) per run: {', '.join(str(n) for n in sorted(delays)) or '–'}.",
        "",
    ]
    floor = summary["floors"]
    if floor:
        md += [
            "Transport floors (bare round trips, same payload, server in another process):",
            "",
            _table(
                ["transport", "what", "p50 ms", "p95 ms", "calls per run"],
                [
                    [
                        t,
                        (f["runs"][0]["server"] if f.get("runs") else (f.get("note") or "not run")),
                        fmt(f.get("p50_ms"), 3),
                        fmt(f.get("p95_ms"), 3),
                        ", ".join(sorted({str(r["calls"]) for r in f.get("runs", [])})) or "–",
                    ]
                    for t, f in floor.items()
                ],
            ),
            "",
        ]
    if summary["overhead"]:
        md += [
            "Added latency of each split variant over its monolith (sequential p50), as a multiple of its transport's floor p50:",
            "",
            _table(
                ["variant", "vs", "transport floor p50 ms", "GET added ms", "GET ÷ floor", "POST added ms", "POST ÷ floor"],
                [
                    [
                        f"`{v}`",
                        f"`{o['baseline']}`",
                        _num(o["floor_p50_ms"], 3),
                        _num(o["added_get_ms"], 2),
                        _num(o["get_ratio"], 1),
                        _num(o["added_post_ms"], 2),
                        _num(o["post_ratio"], 1),
                    ]
                    for v, o in summary["overhead"].items()
                ],
            ),
            "",
        ]
    if "sequential" in charts:
        md += [f"![sequential round trips]({charts['sequential']})", ""]

    # fixed rate
    fixed = summary["fixed"]
    md += [
        "## Fixed offered rate (latency at equal load)",
        "",
        "Locust's own statistics (`locust_final_stats.csv`: its CSV written once the runner stopped; Aggregated row) "
        "for RPS and percentiles; CPU = CPU seconds of all the "
        "variant's processes and their children over the load window, per 1,000 requests; RSS = peak of the sum over its "
        "processes; generator = the locust process's CPU as a share of one core.",
        "",
    ]
    for scenario in scenarios:
        rows = []
        for v in variants:
            if v in summary["not_run"]:
                rows.append([f"`{v}`", summary["not_run"][v]] + [""] * 8)
                continue
            b = fixed.get(v, {}).get(scenario)
            if not b or not b.get("valid_runs"):
                rows.append([f"`{v}`", "no valid run"] + [""] * 8)
                continue
            rows.append(
                [
                    f"`{v}`",
                    fmt(b["rps"], 1),
                    fmt(b["p50_ms"], 0),
                    fmt(b["p95_ms"], 0),
                    fmt(b["p99_ms"], 0),
                    pct(b["error_rate"], 2),
                    fmt(b["cpu_s_per_1k"], 2),
                    fmt(b["peak_rss_mb"], 0),
                    pct(b["gen_cpu_frac"], 0),
                    f"{b['valid_runs']}/{len(b['runs'])}",
                ]
            )
        md += [
            f"### `{scenario}` — {SCENARIO_TEXT.get(scenario, '')}",
            "",
            _table(
                [
                    "variant",
                    "RPS",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "errors",
                    "CPU s / 1k req",
                    "peak RSS MB",
                    "generator CPU",
                    "valid runs",
                ],
                rows,
            ),
            "",
        ]
        broker = [(v, fixed.get(v, {}).get(scenario, {}).get("broker_cpu_s_per_1k")) for v in ran]
        broker = [(v, b) for v, b in broker if b and b.get("median") is not None]
        if broker:
            md += [
                "RabbitMQ broker CPU (not included above; the broker is shared by the machine): "
                + ", ".join(f"`{v}` {fmt(b, 2)} s / 1k req" for v, b in broker),
                "",
            ]
    if "latency" in charts:
        md += [f"![latency]({charts['latency']})", ""]
    if "resources" in charts:
        md += [f"![CPU and memory]({charts['resources']})", ""]

    # notifications
    stream = [s for s in scenarios if s in ("ingest", "mixed")]
    if stream:
        md += [
            "## Alerts: expected vs delivered notifications and delay",
            "",
            f"Each stream target follows the pattern of `loadtest/pattern.py` (a new target every "
            f"{summary['pattern'].get('results_per_target', '?')} results); the expected notifications are computed by replaying "
            "the accepted results through `shared.rules.evaluate`. Delivered = expected (alert, event, channel) slots "
            "holding a notification after the system settled; duplicated = further copies in a slot; unexpected = "
            "notifications of slots no accepted result explains. Delay = result `received_at` → first notification "
            "`created_at`. Totals over the valid repetitions.",
            "",
        ]
        rows = []
        for scenario in stream:
            for v in ran:
                b = fixed.get(v, {}).get(scenario)
                if not b or "notifications" not in b:
                    continue
                n = b["notifications"]
                rows.append(
                    [
                        scenario,
                        f"`{v}`",
                        n["expected"],
                        n["delivered"],
                        n["duplicated"],
                        n["unexpected"],
                        n["lost"],
                        fmt(b["delay_p50_ms"], 1),
                        fmt(b["delay_p95_ms"], 1),
                    ]
                )
        md += [
            _table(
                [
                    "scenario",
                    "variant",
                    "expected",
                    "delivered",
                    "duplicated",
                    "unexpected",
                    "lost",
                    "delay p50 ms",
                    "delay p95 ms",
                ],
                rows,
            )
            if rows
            else "No stream run completed.",
            "",
        ]
        if "alert_delay" in charts:
            md += [f"![alert delay]({charts['alert_delay']})", ""]

    # capacity
    capacity = summary["capacity"]
    if opts.get("capacity"):
        md += [
            "## Capacity",
            "",
            f"Highest achieved rate of a step that held (p95 < {opts.get('slo_ms', 0):g} ms, errors < "
            f"{opts.get('max_error_rate', 0.01):.0%}, offered rate reached). One capacity run per scenario over the "
            "repetitions unless `--capacity-per-rep` says otherwise; per-step figures are recomputed from the request log.",
            "",
        ]
        rows = []
        for v in variants:
            if v in summary["not_run"]:
                rows.append([f"`{v}`"] + [summary["not_run"][v]] + [""] * (len(scenarios) - 1) + [""])
                continue
            cells = []
            why = []
            for scenario in scenarios:
                b = capacity.get(v, {}).get(scenario)
                if not b or b.get("capacity_rps", {}).get("median") is None:
                    cells.append("not measured")
                    continue
                text = fmt(b["capacity_rps"], 0) + " rps"
                if b.get("below_first_step"):
                    text = f"< {b['first_step_rps']:g} rps"
                elif b.get("all_held"):
                    text = "≥ " + text
                if b.get("generator_bound"):
                    text += " (generator-bound)"
                cells.append(text)
                why += [f"{scenario}: {w}" for w in b.get("limited_by", []) if w]
            rows.append([f"`{v}`", *cells, "; ".join(why)])
        md += [_table(["variant", *scenarios, "limited by"], rows), ""]
        if "capacity" in charts:
            md += [f"![capacity]({charts['capacity']})", ""]

    # faults
    if opts.get("faults"):
        faults = summary["faults"]
        md += [
            "## Faults (split variants)",
            "",
            "Under the ingest load, one service is stopped (SIGTERM to its process group; *stopping* = until it is gone, a "
            "graceful shutdown), kept *down*, then restarted on the same port (*restart → healthy*). Edge errors count the "
            "requests that started between the stop request and healthy again. Lost = expected notifications for accepted "
            "results − delivered, after waiting for the system to settle; duplicated = extra copies (both for results sent "
            "from this stop until the next one). Recovery, relative to the restart: *first ok request* = the first success "
            "of a request kind that failed in the window; *first ok transition* = the first accepted result that opens or "
            "resolves an alert; *first notification* = the first notification created; *errors stop* = the end of the last "
            "failed request.",
            "",
        ]
        rows = []
        split = [v for v in variants if v in VARIANTS and VARIANTS[v].is_split]
        header = [
            "variant",
            "stopped",
            "stopping s",
            "down s",
            "restart → healthy s",
            "edge errors in window",
            "statuses",
            "lost / expected",
            "duplicated",
            "first ok request s",
            "first ok transition s",
            "first notification s",
            "errors stop s",
        ]
        for v in split:
            if v in summary["not_run"]:
                rows.append([f"`{v}`", "–", summary["not_run"][v]] + [""] * (len(header) - 3))
                continue
            f = faults.get(v)
            if not f:
                rows.append([f"`{v}`", "–", "not measured"] + [""] * (len(header) - 3))
                continue
            for service, r in f["services"].items():
                statuses = ", ".join(f"{k}×{n}" for k, n in sorted(r["window_failure_statuses"].items()))
                rows.append(
                    [
                        f"`{v}`",
                        service,
                        _num(r.get("stopping_s"), 1),
                        _num(r.get("down_s"), 1),
                        _num(r["restart_to_healthy_s"], 1) if not r.get("restart_error") else f"failed: {r['restart_error']}",
                        f"{r['window_failures']}/{r['window_requests']}"
                        + (f" ({r['window_error_rate'] * 100:.1f}%)" if r["window_error_rate"] is not None else ""),
                        statuses or "–",
                        f"{r['lost']} / {r['expected']}",
                        r["duplicated"],
                        _num(r.get("first_ok_request_after_restart_s"), 2),
                        _num(r["first_ok_transition_after_restart_s"], 2),
                        _num(r["first_notification_after_restart_s"], 2),
                        _num(r["errors_stop_after_s"], 1),
                    ]
                )
        md += [_table(header, rows), ""]
        for v, f in faults.items():
            t = f["total"]
            md.append(
                f"- `{v}` whole fault run: {t['delivered']}/{t['expected']} notifications delivered, {t['lost']} lost, "
                f"{t['duplicated']} duplicated, {t['unexpected']} unexpected; accepted results missing: "
                f"{t['accepted_results_missing']}; settled: {t['settled']} after {_num(t['settle_s'], 1)} s; error rate "
                f"before the first fault: {pct({'median': f['baseline_error_rate'], 'min': 0, 'max': 0, 'n': 1}, 2)}."
            )
        md.append("")
        if "faults" in charts:
            md += [f"![faults]({charts['faults']})", ""]

    md += [_migration_section(out, summary), ""]
    md += [
        "## Raw data",
        "",
        f"- [`{raw_rel}/run.json`]({raw_rel}/run.json): options, plan, every step's status and timing; "
        f"[`{raw_rel}/env.json`]({raw_rel}/env.json): the environment.",
        f"- `{raw_rel}/<variant>/rep<N>/fixed-<scenario>/`, `capacity-<scenario>/`, `faults/`: locust CSVs "
        "(`locust_final_stats.csv`, `locust_stats.csv`, "
        "`locust_failures.csv`, `locust_stats_history.csv`), `requests.csv` (every request), `resources.json` (CPU/RSS samples "
        "every 0.5 s), `ledger.json` and `snapshot.json.gz` (what was sent, what the variant held), `steps.json`, "
        "`timeline.json`.",
        f"- `{raw_rel}/<variant>/rep<N>/sequential/` and `{raw_rel}/floors/rep<N>/`: raw round-trip times in ms.",
        "",
    ]
    return "\n".join(md)


def write(out: Path, summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    charts = _charts(out, summary)
    (out / "REPORT.md").write_text(render(out, summary, charts))
