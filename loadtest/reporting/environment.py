"""The machine and versions the run measured."""

from __future__ import annotations

from pathlib import Path

from loadtest.reporting.tables import table


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    env = summary["env"]
    md: list[str] = []
    pk = env.get("packages", {})
    rmq = env.get("rabbitmq", {})
    md += [
        "## Environment",
        "",
        table(
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
    return md
