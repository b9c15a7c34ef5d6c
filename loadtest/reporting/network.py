"""Slow network: the split variants with a delay between their processes — latency added per request and capacity."""

from __future__ import annotations

from pathlib import Path

from loadtest.reporting.tables import num, table


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    block = summary.get("network") or {}
    opts = summary["options"]
    if not opts.get("network"):
        return []
    md = ["## Slow network (split variants)", "", *_method(opts, block), ""]
    variants = block.get("variants") or {}
    if not variants:
        return [*md, "No network run completed (see *Not run, failed or invalid*).", ""]
    md += [table(*_table(block)), "", *_legend(block), ""]
    md += _reading(summary, block)
    if "network" in charts:
        md += [
            f"![latency added by the network, and capacity]({charts['network']})",
            "",
            "Left: p50 latency added over the lowest RTT, against the RTT, per variant and request kind; the grey lines "
            "are 1, 2 and 3 round trips. Right: capacity in `ingest` at the lowest and the highest RTT.",
            "",
        ]
    return md


def _method(opts: dict, block: dict) -> list[str]:
    rtts = block.get("rtts") or opts.get("network_rtts") or []
    lowest, highest = (min(rtts), max(rtts)) if rtts else (0, 0)
    return [
        f"Each split variant started once (not per repetition) at each round-trip time of {', '.join(f'{r:g}' for r in rtts)} "
        "ms, as between pods (≈ 1 ms) or zones (≈ 5 ms): every address a process is given for a peer, and the "
        "broker's, is a port of one **delay relay** (`harness/delay_relay.py`, a process of the run started before the "
        "others) that writes each chunk it reads to the other side RTT/2 later, in each direction, in order, pipelined "
        "(what Toxiproxy's latency toxic does). Why not `tc netem` in network namespaces: this kernel (and CI's) has no "
        "netem qdisc. Only data is delayed, not the TCP handshake: the apps keep their connections open (HTTP keep-alive "
        "pools, gRPC channels, one AMQP connection per process). The client → api path is not delayed (the load "
        "generator is outside), nor the databases (SQLite files).",
        "",
        "A call between two processes costs one RTT. Through the broker, a message crosses two hops, sender → broker "
        "and broker → receiver, as with the broker in a pod of its own: a request and its reply cost 2 RTTs. So the "
        "RTTs on a request's path: direct splits, GET 1 (api → monitor), POST 2 (api → monitor → alerting, one call "
        "inside the other); event-split, GET 2 (request and reply through the broker), POST 3 (the monitor's confirmed "
        "publication of `CheckCompleted`, monitor → broker → monitor, comes before the reply).",
        "",
        "What differs is what grows with the flow. In a synchronous chain the client waits for every call in it: its "
        "added latency is one RTT per call, so each service added to the chain adds one (a result that opens an alert "
        "also waits for api → … → notification). In the event flow the client waits only for its own request and reply "
        "through the broker (and the confirmed publication): what alerting and notification do afterwards is off its "
        "path, however many services the flow has — it shows in the alert delay instead. The price is that every "
        "message crosses the broker: 2 RTTs where a direct call costs 1.",
        "",
        f"At each RTT: the sequential round trips of the section above ({opts.get('network_seq_calls')} calls of each "
        f"kind after {opts.get('seq_warmup')} warm-up calls, {opts.get('network_probe_results')} alert-delay probe "
        f"results); at {lowest:g} and {highest:g} ms only (to bound the run's time) the capacity search in "
        f"`{block.get('scenario', 'ingest')}`, the same search as under *Capacity*, starting at the capacity the "
        f"variant's repetitions found there (else at the usual start), and at {highest:g} ms at the one found at "
        f"{lowest:g} ms. RTT {lowest:g} still goes through the relay: it measures the relay's own cost (its CPU shares "
        "the machine's cores with the variant), and every *added* figure is over it, so that cost cancels out.",
    ]


def _added(entry: dict, kind: str) -> str:
    added = entry.get(f"added_{kind}_ms")
    if added is None or entry.get("rtt_ms") == entry.get("base_rtt_ms"):
        return "–"
    rtts = entry.get(f"added_{kind}_rtts")
    return f"{added:+.2f} ms" + (f" ({rtts:+.1f} RTT)" if rtts is not None else "")


def _capacity(entry: dict, base: dict | None) -> str:
    cap = entry.get("capacity")
    if not cap:
        return "not measured"
    if not cap.get("valid"):
        return "no valid search"
    if cap.get("below_first_step"):
        return "no step held"
    text = ("≥ " if cap.get("at_least") else "") + f"{num(cap.get('capacity_rps'), 0)} rps"
    first = ((base or {}).get("capacity") or {}).get("capacity_rps")
    if first and base is not entry and cap.get("capacity_rps") is not None:
        text += f" ({cap['capacity_rps'] / first - 1:+.0%})"
    return text


def _table(block: dict) -> tuple[list[str], list[list[str]]]:
    rows = []
    for variant, per_rtt in block["variants"].items():
        entries = sorted(per_rtt.values(), key=lambda e: e["rtt_ms"])
        with_capacity = [e for e in entries if e.get("capacity")]
        base = with_capacity[0] if with_capacity else None
        path = block.get("path_rtts", {}).get(variant, {})
        for i, entry in enumerate(entries):
            seq = entry.get("sequential") or {}
            cell = (lambda key, seq=seq: num(seq.get(key), 2))  # noqa: E731 - one run per RTT: no spread
            rows.append([
                f"`{variant}`" if i == 0 else "",
                f"{path.get('get', '?')} / {path.get('post', '?')}" if i == 0 else "",
                f"{entry['rtt_ms']:g}",
                cell("get_p50_ms"), cell("get_p95_ms"), cell("post_p50_ms"), cell("post_p95_ms"),
                _added(entry, "get"), _added(entry, "post"),
                cell("alert_delay_p50_ms"),
                _capacity(entry, base),
            ])
    header = ["variant", "RTTs on path GET / POST", "RTT ms", "GET p50 ms", "GET p95 ms", "POST p50 ms", "POST p95 ms",
              "GET added (p50)", "POST added (p50)", "alert delay p50 ms", "capacity `ingest`"]
    return header, rows


def _legend(block: dict) -> list[str]:
    return [
        "*Added* = p50 at this RTT − p50 at the lowest RTT of the variant, in ms and in RTTs (added ÷ the RTT "
        "difference): a request whose path has n round trips adds about n RTT. Capacity: the achieved rate of the "
        "highest step that held (in brackets: the change from the lowest RTT); a search was run only where a figure "
        "is given. Alert delay: a failing result received → its notification created (server timestamps).",
    ]


def _reading(summary: dict, block: dict) -> list[str]:
    """Sentences computed from the figures: the relay's own cost at the lowest RTT, and the multiplier per variant."""
    md = []
    seq = summary.get("sequential") or {}
    capacity = summary.get("capacity") or {}
    for variant, per_rtt in block["variants"].items():
        entries = sorted(per_rtt.values(), key=lambda e: e["rtt_ms"])
        low, high = entries[0], entries[-1]
        parts = []
        plain = seq.get(variant, {})
        low_seq = low.get("sequential") or {}
        if low["rtt_ms"] == 0 and plain and low_seq:
            costs = []
            for kind in ("get", "post"):
                theirs, mine = plain.get(f"{kind}_p50_ms", {}).get("median"), low_seq.get(f"{kind}_p50_ms")
                if theirs is not None and mine is not None:
                    costs.append(f"{kind.upper()} {mine - theirs:+.2f} ms")
            if costs:
                parts.append("p50 at RTT 0 through the relay minus p50 without it (the *Sequential* section: another start "
                             "of the variant, so this includes run-to-run noise): " + ", ".join(costs))
        plain_cap = (capacity.get(variant, {}).get(block.get("scenario", "ingest")) or {}).get("capacity_rps", {})
        low_cap = (low.get("capacity") or {}).get("capacity_rps")
        if low["rtt_ms"] == 0 and plain_cap.get("median") and low_cap:
            parts.append(f"capacity at RTT 0 {low_cap / plain_cap['median'] - 1:+.0%} against the *Capacity* section's "
                         "without the relay (whose CPU shares the cores)")
        if high is not low and high.get("added_get_rtts") is not None:
            path = block.get("path_rtts", {}).get(variant, {})
            parts.append(
                f"at {high['rtt_ms']:g} ms a GET pays {high['added_get_rtts']:.1f} RTT (path: {path.get('get')}) and a "
                f"POST {high.get('added_post_rtts') or 0:.1f} RTT (path: {path.get('post')})"
            )
        if parts:
            md.append(f"- `{variant}`: " + "; ".join(parts) + ".")
    return [*md, ""] if md else []


def chart(c) -> str:
    """``network.png``: added p50 latency against RTT per variant and kind; capacity at the lowest and highest RTT."""
    block = c.summary["network"]
    variants = list(block["variants"])
    fig, axes = c.plt.subplots(1, 2, figsize=(12, 4.4), squeeze=False)
    ax = axes[0][0]
    rtts = sorted({e["rtt_ms"] for per in block["variants"].values() for e in per.values()})
    top = max(rtts, default=1.0)
    for n in (1, 2, 3):
        ax.plot([0, top], [0, n * top], ":", color="grey", linewidth=1)
        ax.annotate(f"{n} RTT", (top * 1.01, n * top), fontsize=7, color="grey", ha="left", va="center")
    ax.set_xlim(-0.03 * top, top * 1.1)
    for i, variant in enumerate(variants):
        entries = sorted((e for e in block["variants"][variant].values() if e.get("added_get_ms") is not None),
                         key=lambda e: e["rtt_ms"])
        color = c.colors[i % len(c.colors)]
        for kind, style in (("get", "-o"), ("post", "--s")):
            xs = [e["rtt_ms"] for e in entries]
            ax.plot(xs, [e[f"added_{kind}_ms"] for e in entries], style, color=color, label=f"{variant} {kind.upper()}",
                    markersize=4)
    ax.set_xlabel("round-trip time per hop, ms")
    ax.set_ylabel("p50 latency added, ms")
    ax.set_title("Sequential requests: latency added by the network", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[0][1]
    measured = sorted({e["rtt_ms"] for per in block["variants"].values() for e in per.values() if e.get("capacity")})
    width = 0.8 / max(1, len(measured))
    for j, rtt in enumerate(measured):
        values = []
        for variant in variants:
            cap = (block["variants"][variant].get(f"{rtt:g}") or {}).get("capacity") or {}
            values.append(cap.get("capacity_rps") or 0.0)
        xs = [k + j * width - 0.4 + width / 2 for k in range(len(variants))]
        ax.bar(xs, values, width, label=f"RTT {rtt:g} ms", color=c.colors[(j + 3) % len(c.colors)])
    ax.set_xticks(range(len(variants)))
    ax.set_xticklabels(variants, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("requests/s")
    ax.set_title(f"Capacity in `{block.get('scenario', 'ingest')}` (p95 < {c.summary['options'].get('slo_ms', 0):g} ms)",
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return c.save(fig, "network.png")
