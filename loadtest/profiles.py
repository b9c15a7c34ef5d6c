"""The compare harness's two profiles: ``full`` (the reference run) and ``quick`` (the smoke run, ``--quick``).

Capacity: the offered rate starts at ``capacity_start`` requests/s and is multiplied by ``capacity_factor`` each
step until a step fails, then bisected ``capacity_refine`` times; each step runs ``capacity_ramp_s`` to settle,
then ``capacity_step_s`` measured; ``capacity_processes`` locust worker processes offer the load.

Scale (:mod:`loadtest.scale`): the same search on PostgreSQL at each of ``scale_replicas`` copies of every process,
in one scenario, ``scale_scenario``: ``mixed``, because it is the traffic of a user base (reads of targets, results
and alerts, the result stream that drives alerting and notification, occasional writes), so it exercises every
process kind in the proportions the "1 million users" question is about; ``ingest`` would weigh only the write
chain. The search at n > 1 replicas starts at the capacity found with n − 1 (fewer steps to the same resolution).
``scale_variants``: None for every variant; QUICK runs direct-monolith only (the fastest to start and stop, so the
smoke run stays under 3 minutes; ``--scale-variants event-split`` shows every process kind, broker included, in
~30 s more). The ``model_*`` settings are the model's assumptions.

Network (:mod:`loadtest.network`): each split variant started behind the delay relay at each of ``network_rtts``
(round-trip times, ms), once (not per repetition): ``network_seq_calls`` sequential round trips of each kind and
``network_probe_results`` alert-delay probe results, then the capacity search in ``ingest`` at the lowest and the
highest RTT only (the one in between would add a search per variant for a point the chart draws as a line anyway).
``network_variants``: None for every split variant; QUICK runs a synchronous chain (direct-split-http) and the event
flow (event-split), the contrast the section is about, at 0 and 5 ms.

Traces (:mod:`loadtest.traced_pass`): each variant once more with tracing on, ``trace_requests`` sequential requests
of each kind, apart from the timed runs.
"""

from __future__ import annotations

MODEL = {
    "model_users": 1_000_000,
    "model_requests_per_user_day": 50.0,
    "model_peak_factor": 5.0,
    "model_utilisation": 0.6,
}
"""The model's defaults: the seed's 1 million users, 50 requests each per day, a peak 5× the day's mean rate,
cores sized to run at 60% busy at that peak."""

PROFILES: dict[str, dict] = {
    "full": {
        "reps": 3,
        "rate": 30.0,
        "users": 10,
        "fixed_s": 7.0,
        "capacity_start": 50.0,
        "capacity_factor": 2.0,
        "capacity_refine": 3,
        "capacity_step_s": 10.0,
        "capacity_ramp_s": 2.0,
        "capacity_processes": 2,
        "capacity_max_steps": 30,
        "capacity_user_rate": 4.0,
        "capacity_per_rep": 3,
        "slo_ms": 200.0,
        "seq_calls": 500,
        "seq_warmup": 50,
        "seq_reps": 1,
        "probe_results": 400,
        "floor_calls": 500,
        "floor_warmup": 50,
        "fault_window_s": 10.0,
        "fault_pre_s": 3.0,
        "fault_post_s": 4.0,
        "fault_rate": 30.0,
        # every kind on each service behind the api: stopped, crashed, hung (the monitor, which every result passes,
        # crashed and hung only); then the webhook receiver slow and failing; then the broker restarted, for the
        # variants that have one (see loadtest.options.FAULT_KINDS)
        "fault_plan": tuple((kind, service) for kind in ("stop", "kill", "hang") for service in ("notification", "alerting"))
        + (("kill", "monitor"), ("hang", "monitor"), ("slow", "webhook"), ("fail", "webhook"), ("restart", "broker")),
        "settle_s": 10.0,
        "scale_replicas": (1, 2, 3),
        "scale_scenario": "mixed",
        "scale_variants": None,
        "scale_refine": 3,
        "network_rtts": (0.0, 1.0, 5.0),
        "network_variants": None,
        "network_seq_calls": 200,
        "network_probe_results": 40,
        "trace_requests": 30,
        **MODEL,
        "budget_s": 9000.0,  # ~2 h planned on 2 cores (capacity searches ~1 h 20 min, scale ~20 min, network ~9 min); a guard
    },
    "quick": {
        "reps": 1,
        "rate": 8.0,
        "users": 2,
        "fixed_s": 2.0,
        "capacity_start": 100.0,
        "capacity_factor": 3.0,
        "capacity_refine": 1,
        "capacity_step_s": 0.8,
        "capacity_ramp_s": 0.3,
        "capacity_processes": 2,
        "capacity_max_steps": 12,
        "capacity_user_rate": 5.0,
        "capacity_per_rep": 1,
        "slo_ms": 200.0,
        "seq_calls": 50,
        "seq_warmup": 5,
        "seq_reps": 1,
        "probe_results": 4,
        "floor_calls": 50,
        "floor_warmup": 5,
        "fault_window_s": 1.5,
        "fault_pre_s": 1.0,
        "fault_post_s": 1.0,
        "fault_rate": 8.0,
        "fault_plan": (("kill", "notification"), ("hang", "alerting")),  # two kinds, to stay under 3 minutes
        "settle_s": 5.0,
        "scale_replicas": (1, 2),
        "scale_scenario": "mixed",
        "scale_variants": ("direct-monolith",),
        "scale_refine": 0,
        "network_rtts": (0.0, 5.0),
        "network_variants": ("direct-split-http", "event-split"),
        "network_seq_calls": 30,
        "network_probe_results": 4,
        "trace_requests": 4,
        **MODEL,
        "budget_s": 330.0,  # a guard on estimates (~20% pessimistic here); the run itself takes under 4 min
    },
}
