"""The audit after each fault: what the primary holds against what the API acknowledged
(every acknowledged booking and payment exists exactly once, no slot is overbooked, every
payment matches its booking)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.chaos.workload import Workload
from devstack.topology import ProductionStack

HOLDING = ("pending", "confirmed")
Query = Callable[..., list[tuple]]


def audit(stack: ProductionStack, workload: Workload) -> dict[str, Any]:
    """What the primary holds against what the API acknowledged."""
    primary = stack.servers.postgres.primary

    def query(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return primary.query(sql, params, dbname="myhibachi")

    with workload._lock:
        acked_bookings = dict(workload.acked_bookings)
        acked_payments = dict(workload.acked_payments)
        notes = list(workload.booking_notes)
    report = {
        "acknowledged_bookings": len(acked_bookings),
        "acknowledged_payments": len(acked_payments),
        **_booking_findings(query, acked_bookings, notes),
        **_payment_findings(query, acked_payments, notes),
        "overbooked_slots": overbooked_slots(query, sorted({day for day, _ in workload.slots})),
        "idempotent_replay_mismatches": list(workload.replay_mismatches),
        "client_errors": list(workload.client_errors),
    }
    problems = [
        f"{key}: {value[:5]}" for key, value in report.items() if isinstance(value, list) and value
    ]
    report["ok"] = not problems
    report["problems"] = problems
    return report


def _booking_findings(query: Query, acked: dict[int, dict], notes: list[str]) -> dict[str, Any]:
    """Every acknowledged booking written once, as acknowledged, and whole."""
    rows = query(
        "SELECT id, notes, total, subtotal, travel_fee, deposit_due FROM bookings_booking "
        "WHERE notes = ANY(%s)",
        [notes],
    )
    by_notes: dict[str, list[tuple]] = {}
    for row in rows:
        by_notes.setdefault(row[1], []).append(row)
    by_id = {row[0]: row for row in rows}
    return {
        "written_not_acknowledged_bookings": len([row for row in rows if row[0] not in acked]),
        "lost_bookings": [pk for pk in acked if pk not in by_id],
        "duplicated_bookings": [note for note, found in by_notes.items() if len(found) > 1],
        "mismatched_bookings": [
            pk
            for pk, body in acked.items()
            if pk in by_id
            and (by_id[pk][1] != body["notes"] or by_id[pk][2] != body["quote"]["total"])
        ],
        "half_written_bookings": [row[0] for row in rows if row[2] != row[3] + row[4]],
    }


def _payment_findings(query: Query, acked: dict[int, dict], notes: list[str]) -> dict[str, Any]:
    """Every acknowledged payment written, one live deposit a booking, amounts that match."""
    payments = query(
        "SELECT p.id, p.booking_id, p.kind, p.amount, p.status, b.total, b.deposit_due "
        "FROM payments_payment p JOIN bookings_booking b ON b.id = p.booking_id "
        "WHERE b.notes = ANY(%s)",
        [notes],
    )
    payment_ids = [row[0] for row in payments]
    per_booking: dict[int, list[tuple]] = {}
    for row in payments:
        per_booking.setdefault(row[1], []).append(row)
    double_deposits = [
        booking
        for booking, found in per_booking.items()
        if len([r for r in found if r[2] == "deposit" and r[4] != "failed"]) > 1
    ]
    wrong_amounts = [row[0] for row in payments if row[2] == "deposit" and row[3] != row[6]] + [
        booking
        for booking, found in per_booking.items()
        if sum(r[3] for r in found if r[4] in ("pending", "succeeded")) > found[0][5]
    ]
    wrong_acked = [
        pk
        for pk, body in acked.items()
        if pk in payment_ids
        and next(r for r in payments if r[0] == pk)[1:4]
        != (body["booking"], "deposit", body["amount"])
    ]
    return {
        "lost_payments": [pk for pk in acked if pk not in payment_ids],
        "double_deposits": double_deposits,
        "payments_not_matching_booking": wrong_amounts + wrong_acked,
    }


def overbooked_slots(query: Query, days: list[str]) -> list[str]:
    """Slots holding more bookings than their capacity (the weekly schedule, or the date's
    override)."""
    schedule: dict[tuple[int, str], int] = {
        (weekday, str(at)): capacity
        for weekday, at, capacity in query(
            "SELECT weekday, start_time, capacity FROM bookings_timeslot"
        )
    }
    overrides = {
        str(day): (closed, capacity)
        for day, closed, capacity in query(
            "SELECT date, is_closed, capacity FROM bookings_dateoverride"
        )
    }
    holding = query(
        "SELECT event_date, start_time, count(*) FROM bookings_booking "
        "WHERE status = ANY(%s) AND event_date = ANY(%s::date[]) GROUP BY 1, 2",
        [list(HOLDING), days],
    )
    found = []
    for day, at, count in holding:
        closed, override = overrides.get(str(day), (False, None))
        capacity = 0 if closed else schedule.get((day.weekday(), str(at)), 0)
        if not closed and override is not None:
            capacity = override
        if count > capacity:
            found.append(f"{day} {at}: {count} > {capacity}")
    return found
