"""Writes of the bookings app: creating, cancelling and moving bookings between statuses."""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from bookings import lock_objects, selectors, signals
from bookings.errors import InvalidStatusTransition, SlotFull, TooLateToCancel
from bookings.models import Booking, Chef
from core.observability import metrics

logger = logging.getLogger(__name__)

Status = Booking.Status


def booking_create(
    *,
    customer: User,
    package_id: int,
    event_date: datetime.date,
    start_time: datetime.time,
    adults: int,
    children: int,
    postcode: str,
    address: str,
    notes: str = "",
    now: datetime.datetime | None = None,
) -> Booking:
    """Book a slot in ``pending``, re-pricing and re-checking capacity under the slot's lock.

    Raises ``SlotUnavailable``/``SlotFull`` for the slot, ``InvalidInput`` or
    ``OutsideServiceArea`` for the order. Concurrent requests for one slot are serialised by
    ``lock_objects.slot_lock``, so a slot is never overbooked.

    Four statements between BEGIN and COMMIT (docs/booking-path.md): the slot's lock, its
    capacity and holding bookings in one query, the booking, and its two emails' outbox rows
    in one INSERT. The package and the zones come from the cached catalogue.
    """
    package = selectors.package_get_active(package_id=package_id)
    quote = selectors.quote_calculate(
        package=package, adults=adults, children=children, postcode=postcode
    )
    selectors.slot_check_bookable(date=event_date, start_time=start_time, now=now)
    with transaction.atomic():
        lock_objects.slot_lock(date=event_date, start_time=start_time)
        # Read capacity and bookings only once the lock is held: they are what it protects.
        capacity, taken = selectors.slot_use(date=event_date, start_time=start_time)
        if taken >= capacity:
            raise SlotFull()
        booking = Booking.objects.create(
            customer=customer,
            package=package,
            event_date=event_date,
            start_time=start_time,
            adults=adults,
            children=children,
            postcode=postcode,
            address=address,
            notes=notes,
            subtotal=quote.subtotal,
            travel_fee=quote.travel_fee,
            total=quote.total,
            deposit_due=quote.deposit_due,
            currency=quote.currency,
        )
        metrics.inc_on_commit(metrics.bookings_created)
        # Emails go out after the commit, from a worker; a rolled-back booking sends none.
        _announce(booking, signals.RECEIVED)
    logger.info("booking created", extra={"booking_id": booking.pk, "customer_id": customer.pk})
    return booking


def booking_cancel(
    *, booking_id: int, by_staff: bool = False, now: datetime.datetime | None = None
) -> Booking:
    """Cancel a pending or confirmed booking. Customers may cancel only while the event is
    more than BOOKING_CANCELLATION_WINDOW_HOURS away (``TooLateToCancel``); staff any time."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = lock_objects.booking_lock(booking_id=booking_id)
        if booking.status not in Booking.HOLDING_STATUSES:
            raise InvalidStatusTransition(f"A {booking.status} booking cannot be cancelled.")
        if not by_staff:
            starts = selectors.event_start(date=booking.event_date, start_time=booking.start_time)
            window = datetime.timedelta(hours=settings.BOOKING_CANCELLATION_WINDOW_HOURS)
            if starts - now <= window:
                raise TooLateToCancel()
        booking.status = Status.CANCELLED
        booking.cancelled_at = now
        booking.save(update_fields=["status", "cancelled_at", "updated_at"])
        _announce(booking, signals.CANCELLED)
    return booking


def booking_confirm(*, booking_id: int, now: datetime.datetime | None = None) -> Booking:
    """Staff accept a pending booking; the customer is emailed."""
    with transaction.atomic():
        booking = _transition(
            booking_id=booking_id,
            allowed_from=(Status.PENDING,),
            to=Status.CONFIRMED,
            timestamp_field="confirmed_at",
            now=now,
        )
        _announce(booking, signals.CONFIRMED)
    return booking


def booking_complete(*, booking_id: int, now: datetime.datetime | None = None) -> Booking:
    """Staff mark a confirmed booking's event as done (reviews open for it)."""
    return _transition(
        booking_id=booking_id,
        allowed_from=(Status.CONFIRMED,),
        to=Status.COMPLETED,
        timestamp_field="completed_at",
        now=now,
    )


def bookings_complete_past(*, now: datetime.datetime | None = None) -> int:
    """Mark confirmed bookings completed once BOOKING_AUTO_COMPLETE_AFTER_HOURS have passed since
    their start (housekeeping; staff may do it sooner). Returns how many were completed.

    Each booking is completed by ``booking_complete`` under its own lock, so a booking staff
    cancelled or completed meanwhile is skipped, and two runs at once complete it once.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(hours=settings.BOOKING_AUTO_COMPLETE_AFTER_HOURS)
    candidates = Booking.objects.filter(
        status=Status.CONFIRMED, event_date__lte=timezone.localdate(cutoff)
    ).values_list("pk", "event_date", "start_time")
    completed = 0
    for booking_id, event_date, start_time in candidates.order_by("pk"):
        if selectors.event_start(date=event_date, start_time=start_time) > cutoff:
            continue
        try:
            booking_complete(booking_id=booking_id, now=now)
        except InvalidStatusTransition:
            continue  # changed by staff since the query
        completed += 1
    if completed:
        logger.info("bookings completed after their event", extra={"count": completed})
    return completed


def booking_assign_chef(*, booking_id: int, chef: Chef | None) -> Booking:
    with transaction.atomic():
        booking = lock_objects.booking_lock(booking_id=booking_id)
        if booking.status not in Booking.HOLDING_STATUSES:
            raise InvalidStatusTransition(f"A {booking.status} booking cannot get a chef.")
        booking.chef = chef
        booking.save(update_fields=["chef", "updated_at"])
    return booking


def _announce(booking: Booking, event: str) -> None:
    """Tell the apps that react to bookings (the emails: ``notifications.receivers``), inside
    the caller's transaction."""
    signals.booking_changed.send(sender=Booking, booking=booking, event=event)


def _transition(
    *,
    booking_id: int,
    allowed_from: tuple[str, ...],
    to: str,
    timestamp_field: str,
    now: datetime.datetime | None,
) -> Booking:
    with transaction.atomic():
        booking = lock_objects.booking_lock(booking_id=booking_id)
        if booking.status not in allowed_from:
            raise InvalidStatusTransition(f"A {booking.status} booking cannot become {to}.")
        booking.status = to
        setattr(booking, timestamp_field, now or timezone.now())
        booking.save(update_fields=["status", timestamp_field, "updated_at"])
    return booking
