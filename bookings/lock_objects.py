"""Every row lock of the bookings app, in one place.

Lock order, to rule out deadlocks: a Slot row before any Booking row; Booking rows by
ascending pk. Callers must be inside ``transaction.atomic()``.
"""

import datetime

from bookings.models import Booking, Slot


def slot_lock(*, date: datetime.date, start_time: datetime.time) -> Slot:
    """Create the slot's lock row if it is the slot's first booking, then lock it.

    Every booking creation for one (date, start time) takes this lock before counting the
    slot's bookings, so two requests can never both see the last free place. Two requests
    creating the row at once are serialised by the unique constraint: the loser's INSERT waits
    for the winner's commit and then reads the row (``get_or_create`` retries the get).
    """
    Slot.objects.get_or_create(date=date, start_time=start_time)
    return Slot.objects.select_for_update().get(date=date, start_time=start_time)


def booking_lock(*, booking_id: int) -> Booking:
    """Lock one booking for a status change, so a customer's cancel and staff's confirm
    cannot interleave. Raises ``Booking.DoesNotExist``."""
    return Booking.objects.select_for_update().get(pk=booking_id)
