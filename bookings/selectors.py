"""Reads of the bookings app: catalogue, schedule, availability, quotes and bookings.

The public catalogue and availability are cached; what invalidates them is in
``bookings/caching.py``. Booking itself never reads the cache: capacity is checked under the
slot's lock against the database (``services.booking_create``).
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone

from accounts.models import User
from bookings import caching
from bookings.errors import OutsideServiceArea, SlotUnavailable
from bookings.models import Booking, DateOverride, Package, ServiceZone, TimeSlot
from core.cache import cache_many, cache_result
from core.http.errors import InvalidInput, NotFound
from payments.selectors import amount_paid_expression


@dataclass(frozen=True)
class Quote:
    """A price in cents. ``subtotal`` is the food, raised to the package's minimum total."""

    subtotal: int
    travel_fee: int
    total: int
    deposit_due: int
    currency: str


@dataclass(frozen=True)
class SlotAvailability:
    start_time: datetime.time
    capacity: int
    remaining: int


@dataclass(frozen=True)
class DayAvailability:
    date: datetime.date
    slots: list[SlotAvailability]


# ------------------------------------------------------------------------------ catalogue


@cache_result(ttl=600, key=caching.packages_key, l1=True)
def package_list_active() -> list[Package]:
    return list(Package.objects.filter(is_active=True))


def package_get_active(*, package_id: int) -> Package:
    """The active package, or ``InvalidInput`` on the ``package`` field."""
    package = Package.objects.filter(pk=package_id, is_active=True).first()
    if package is None:
        raise InvalidInput("package", "Unknown or unavailable package.")
    return package


def service_zone_list_active() -> QuerySet[ServiceZone]:
    return ServiceZone.objects.filter(is_active=True)


@cache_result(ttl=600, key=caching.service_area_key, l1=True)
def service_zone_list_public() -> list[ServiceZone]:
    """The active zones as the public service-area list shows them."""
    return list(service_zone_list_active())


def service_zone_for_postcode(*, postcode: str) -> ServiceZone:
    """The active zone with the longest prefix of ``postcode``, or ``OutsideServiceArea``."""
    best: tuple[int, ServiceZone] | None = None
    for zone in service_zone_list_active():
        for prefix in zone.postcode_prefixes:
            if postcode.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), zone)
    if best is None:
        raise OutsideServiceArea()
    return best[1]


# ------------------------------------------------------------------------------ schedule


def event_start(*, date: datetime.date, start_time: datetime.time) -> datetime.datetime:
    """The aware datetime an event starts, in the business's time zone."""
    return timezone.make_aware(
        datetime.datetime.combine(date, start_time), timezone.get_default_timezone()
    )


def bookable_window(
    *, now: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.date]:
    """(earliest start an event may have, last date that may be booked)."""
    now = now or timezone.now()
    earliest = now + datetime.timedelta(hours=settings.BOOKING_MIN_NOTICE_HOURS)
    latest = timezone.localdate(now) + datetime.timedelta(days=settings.BOOKING_MAX_ADVANCE_DAYS)
    return earliest, latest


def _slot_capacities(
    *, start: datetime.date, end: datetime.date
) -> dict[datetime.date, dict[datetime.time, int]]:
    """Capacity per date and start time from the weekly schedule and staff's overrides.
    Two queries whatever the range."""
    by_weekday: dict[int, list[TimeSlot]] = defaultdict(list)
    for slot in TimeSlot.objects.filter(is_active=True):
        by_weekday[slot.weekday].append(slot)
    overrides = {o.date: o for o in DateOverride.objects.filter(date__range=(start, end))}

    capacities: dict[datetime.date, dict[datetime.time, int]] = {}
    # Counted, not stepped past ``end``: the day after date.max does not exist.
    for offset in range((end - start).days + 1):
        day = start + datetime.timedelta(days=offset)
        override = overrides.get(day)
        slots: dict[datetime.time, int] = {}
        if override is None or not override.is_closed:
            for slot in by_weekday[day.weekday()]:
                capacity = slot.capacity
                if override is not None and override.capacity is not None:
                    capacity = override.capacity
                slots[slot.start_time] = capacity
        capacities[day] = slots
    return capacities


def _holding_counts(
    *, start: datetime.date, end: datetime.date
) -> dict[tuple[datetime.date, datetime.time], int]:
    rows = (
        Booking.objects.filter(event_date__range=(start, end), status__in=Booking.HOLDING_STATUSES)
        .values("event_date", "start_time")
        .annotate(taken=Count("id"))
        .order_by()
    )
    return {(row["event_date"], row["start_time"]): row["taken"] for row in rows}


@cache_many(ttl=300, key=caching.availability_day_key)
def slot_use_by_date(
    dates: list[datetime.date],
) -> dict[datetime.date, dict[datetime.time, tuple[int, int]]]:
    """For each of ``dates``: start time -> (capacity, bookings holding the slot). What the
    database says, without the clock, so it can be cached per date. Three queries."""
    wanted = set(dates)
    capacities = _slot_capacities(start=min(wanted), end=max(wanted))
    taken = _holding_counts(start=min(wanted), end=max(wanted))
    return {
        day: {at: (capacity, taken.get((day, at), 0)) for at, capacity in slots.items()}
        for day, slots in capacities.items()
        if day in wanted
    }


def availability_for_range(
    *, start: datetime.date, end: datetime.date, now: datetime.datetime | None = None
) -> list[DayAvailability]:
    """One entry per date in ``[start, end]``. Slots that cannot be booked (too soon, too far
    ahead) show ``remaining: 0``; closed dates have no slots. At most three queries (none when
    every date is cached)."""
    earliest, latest = bookable_window(now=now)
    # Only the first bookable date needs the time of day: comparing by date elsewhere keeps
    # dates near year 1 and 9999 out of time-zone arithmetic, which overflows there.
    earliest_date = timezone.localdate(earliest)
    dates = [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]
    use = slot_use_by_date(dates)
    days = []
    for day in dates:
        entries = []
        for start_time, (capacity, taken) in sorted(use[day].items()):
            bookable = earliest_date <= day <= latest and (
                day > earliest_date or event_start(date=day, start_time=start_time) >= earliest
            )
            free = max(capacity - taken, 0) if bookable else 0
            entries.append(
                SlotAvailability(start_time=start_time, capacity=capacity, remaining=free)
            )
        days.append(DayAvailability(date=day, slots=entries))
    return days


def slot_capacity(
    *, date: datetime.date, start_time: datetime.time, now: datetime.datetime | None = None
) -> int:
    """The capacity of a bookable slot; ``SlotUnavailable`` if it is closed, not on the
    schedule, too soon or too far ahead."""
    earliest, latest = bookable_window(now=now)
    if date > latest:
        raise SlotUnavailable(
            f"Events can be booked at most {settings.BOOKING_MAX_ADVANCE_DAYS} days ahead."
        )
    too_soon = date < timezone.localdate(earliest) or (
        date == timezone.localdate(earliest)
        and event_start(date=date, start_time=start_time) < earliest
    )
    if too_soon:
        raise SlotUnavailable(
            f"Events must be booked at least {settings.BOOKING_MIN_NOTICE_HOURS} hours ahead."
        )
    capacity = _slot_capacities(start=date, end=date)[date].get(start_time)
    if not capacity:
        raise SlotUnavailable("We have no chef available at this date and time.")
    return capacity


def slot_holding_count(*, date: datetime.date, start_time: datetime.time) -> int:
    return Booking.objects.filter(
        event_date=date, start_time=start_time, status__in=Booking.HOLDING_STATUSES
    ).count()


# ------------------------------------------------------------------------------ quotes


def quote_calculate(*, package: Package, adults: int, children: int, postcode: str) -> Quote:
    """Price an event. Raises ``InvalidInput`` for a guest count outside the package's and the
    business's limits, ``OutsideServiceArea`` for a postcode we do not serve."""
    guests = adults + children
    min_guests = max(package.min_guests, settings.BOOKING_MIN_GUESTS)
    max_guests = min(package.max_guests, settings.BOOKING_MAX_GUESTS)
    if not min_guests <= guests <= max_guests:
        raise InvalidInput(
            "adults", f"This package is for {min_guests} to {max_guests} guests in total."
        )
    zone = service_zone_for_postcode(postcode=postcode)
    food = adults * package.price_per_adult + children * package.price_per_child
    subtotal = max(food, package.minimum_total)
    total = subtotal + zone.travel_fee
    # Round the deposit up to the cent: never ask for less than the percentage.
    deposit_due = -(-total * settings.BOOKING_DEPOSIT_PERCENT // 100)
    return Quote(
        subtotal=subtotal,
        travel_fee=zone.travel_fee,
        total=total,
        deposit_due=deposit_due,
        currency=package.currency,
    )


# ------------------------------------------------------------------------------ bookings


def booking_list_for_customer(*, customer: User) -> QuerySet[Booking]:
    """The customer's bookings with ``amount_paid`` annotated, newest first."""
    return (
        Booking.objects.filter(customer=customer)
        .select_related("package")
        .annotate(amount_paid=amount_paid_expression())
        .order_by("-created_at", "-id")
    )


def booking_get_for_customer(*, customer: User, booking_id: int) -> Booking:
    """The customer's own booking; anyone else's is ``NotFound`` (never reveal it exists)."""
    booking = booking_list_for_customer(customer=customer).filter(pk=booking_id).first()
    if booking is None:
        raise NotFound("Booking not found.")
    return booking


# ------------------------------------------------------------------------------ operations


@dataclass(frozen=True)
class SlotBookings:
    start_time: datetime.time
    # None: the slot is not on today's schedule (closed date, or a slot staff removed).
    capacity: int | None
    by_status: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def pending(self) -> int:
        return self.count("pending")

    @property
    def confirmed(self) -> int:
        return self.count("confirmed")

    @property
    def completed(self) -> int:
        return self.count("completed")

    @property
    def cancelled(self) -> int:
        return self.count("cancelled")

    @property
    def holding(self) -> int:
        """Bookings that hold a chef team for the slot (pending or confirmed)."""
        return self.pending + self.confirmed

    @property
    def free(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.holding, 0)


def bookings_per_slot(*, day: datetime.date) -> list[SlotBookings]:
    """Every slot of ``day`` on the schedule or with a booking: capacity and bookings by status
    (the staff operations dashboard). One query for the bookings, plus
    ``availability_for_range``'s for the schedule."""
    [schedule] = availability_for_range(start=day, end=day)
    capacities = {slot.start_time: slot.capacity for slot in schedule.slots}
    by_slot: dict[datetime.time, dict[str, int]] = defaultdict(dict)
    rows = (
        Booking.objects.filter(event_date=day)
        .values("start_time", "status")
        .annotate(bookings=Count("id"))
        .order_by()
    )
    for row in rows:
        by_slot[row["start_time"]][row["status"]] = row["bookings"]
    return [
        SlotBookings(start_time=at, capacity=capacities.get(at), by_status=by_slot.get(at, {}))
        for at in sorted(set(capacities) | set(by_slot))
    ]
