"""Every row lock of the bookings app, in one place.

Lock order, to rule out deadlocks: a Slot row before any Booking row; Booking rows by
ascending pk. Callers must be inside ``transaction.atomic()``.
"""

import datetime

from bookings.models import Booking, Slot


def slot_lock(*, date: datetime.date, start_time: datetime.time) -> None:
    """Lock the slot's row, creating it if this is the slot's first booking: one statement.

    Every booking creation for one (date, start time) takes this lock before counting the
    slot's bookings, so two requests can never both see the last free place.

    ``INSERT ... ON CONFLICT (date, start_time) DO UPDATE`` locks the row whether it inserts it
    or finds it: the update of an existing row waits for any transaction holding it, and two
    requests inserting a new slot at once are serialised by the unique index (the loser waits
    for the winner's commit, then takes the conflict path and locks the row). The no-op update
    (``date = EXCLUDED.date``) is what makes PostgreSQL lock the row; it replaces a get, an
    insert in a savepoint and a ``SELECT ... FOR UPDATE`` (three to five round trips).

    The count that follows must be a separate statement: in READ COMMITTED each statement takes
    a new snapshot, so the count, run after the lock was granted, sees the bookings that the
    previous holder committed. A single statement would count from a snapshot taken before the
    wait.
    """
    Slot.objects.bulk_create(
        [Slot(date=date, start_time=start_time)],
        update_conflicts=True,
        unique_fields=["date", "start_time"],
        update_fields=["date"],
    )


def booking_lock(*, booking_id: int) -> Booking:
    """Lock one booking for a status change, so a customer's cancel and staff's confirm
    cannot interleave. Raises ``Booking.DoesNotExist``."""
    return Booking.objects.select_for_update().get(pk=booking_id)
