"""Chaos under load, the short version of `make chaos` (bench/chaos.py): the production
topology takes a steady mix of reads, bookings and deposit payments (with idempotency keys)
while, in turn, the replica restarts, its replay pauses past the lag budget, Redis restarts, a
backend is killed and restarted, gunicorn and nginx reload, and the primary restarts.

Nothing acknowledged is lost or doubled, no slot is overbooked, no payment disagrees with its
booking; no request fails through the replica, replay-lag and Redis faults; nothing ever
answers 500. Known gap (asserted as it is, so a fix shows): during the primary's outage nginx
counts the app's 503s as backend failures and answers 502 for everything, reads included.
Each fault lasts a few seconds; every loop is bounded in count and time; nothing asserts a duration.
"""

from __future__ import annotations

import pytest

from bench.chaos import PRIMARY_OUTAGE, Timing, chaos_stack, run_chaos, write_report

pytestmark = pytest.mark.servers


def test_nothing_acknowledged_is_lost_through_every_fault(
    tmp_path,
):
    with chaos_stack() as stack:
        results = run_chaos(stack, Timing.short(), log=lambda line: None)
    write_report(results, tmp_path, "pytest tests/e2e/test_chaos.py")
    phases = {phase["name"]: phase for phase in results["phases"]}
    assert len(phases) == 7, list(phases)
    for name, phase in phases.items():
        # the load really ran through the fault, reads and writes
        assert phase["reads"] > 0 and phase["writes"] > 0, (name, phase)
        # after each fault, the primary holds exactly what the API acknowledged
        assert phase["audit"]["problems"] == [], (name, phase["audit"]["problems"])
        # nothing ever goes unanswered or answers 500
        assert phase["no_answer"] == 0, (name, phase["failure_codes"])
        assert not [c for c in phase["failure_codes"] if c.startswith("500")], name
    # zero failed reads or writes through the replica, replay-lag and Redis faults
    for name in ("baseline", "replica-restart", "replay-paused", "redis-restart"):
        assert phases[name]["failed"] == 0, (name, phases[name]["failure_codes"])
    # a killed backend costs no read; a POST it was holding gets nginx's 502 (never replayed)
    assert phases["backend-killed"]["failed_reads"] == 0
    assert set(phases["backend-killed"]["failure_codes"]) <= {"502:bad_gateway"}
    # a reload costs at most load shedding's 503 (Retry-After) on a saturated new worker
    assert set(phases["reloads"]["failure_codes"]) <= {"503:overloaded"}
    # the primary's outage: writes fail cleanly (503 database_unavailable), or nginx's 502 once
    # it has counted those 503s as backend failures (KNOWN GAP: reads fail then too, see the
    # README's "Chaos" section); never a 500, never half a write (the audit above)
    codes = set(phases[PRIMARY_OUTAGE]["failure_codes"])
    assert codes <= {"503:database_unavailable", "502:bad_gateway"}, codes
    final = results["final_audit"]
    assert final["acknowledged_bookings"] > 0 and final["acknowledged_payments"] > 0
    assert final["lost_bookings"] == [] and final["lost_payments"] == []
    assert final["duplicated_bookings"] == [] and final["double_deposits"] == []
    assert final["overbooked_slots"] == []
    assert final["payments_not_matching_booking"] == []
    assert final["idempotent_replay_mismatches"] == []
