"""The compare harness's two profiles: ``full`` (the reference run) and ``quick`` (the smoke run, ``--quick``).

Capacity: the offered rate starts at ``capacity_start`` requests/s and is multiplied by ``capacity_factor`` each
step until a step fails, then bisected ``capacity_refine`` times; each step runs ``capacity_ramp_s`` to settle,
then ``capacity_step_s`` measured; ``capacity_processes`` locust worker processes offer the load.
"""

from __future__ import annotations

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
        "settle_s": 10.0,
        "budget_s": 7200.0,  # the capacity searches dominate: ~1 h 45 min planned on 2 cores
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
        "settle_s": 5.0,
        "budget_s": 240.0,  # a guard on estimates (~25% pessimistic here); the run itself takes ~2.5 min
    },
}
