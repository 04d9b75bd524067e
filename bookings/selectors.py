"""Reads of the bookings app: catalogue, schedule, availability, quotes and bookings.

The public catalogue and availability are cached; what invalidates them is in
``bookings/caching.py``. Booking itself never reads the cache: capacity is checked under the
slot's lock against the database (``services.booking_create``).
"""

from __future__ import annotations

import datetime
import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Count,
    DateField,
    F,
    IntegerField,
    QuerySet,
    TimeField,
    Value,
)
from django.db.models.expressions import Combinable
from django.utils import timezone
from django.utils.module_loading import import_string

from bookings import caching
from bookings.errors import OutsideServiceArea, SlotUnavailable
from bookings.models import Booking, DateOverride, Package, ServiceZone, TimeSlot
from core.cache import cache_many, cache_result
from core.db.prepared import Param, PreparedQuery
from core.http.errors import InvalidInput, NotFound


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
    """The active package, or ``InvalidInput`` on the ``package`` field.

    From the cached catalogue (no query when it is warm): a package saved or deleted bumps its
    version after the commit, so a price change or a withdrawn package applies to the next
    booking, or within ``CACHE_LOCAL_SECONDS`` on workers trusting their L1 versions.
    """
    for package in package_list_active():
        if package.pk == package_id:
            return package
    raise InvalidInput("package", "Unknown or unavailable package.")


def service_zone_list_active() -> QuerySet[ServiceZone]:
    return ServiceZone.objects.filter(is_active=True)


@cache_result(ttl=600, key=caching.service_area_key, l1=True)
def service_zone_list_public() -> list[ServiceZone]:
    """The active zones as the public service-area list shows them."""
    return list(service_zone_list_active())


def service_zone_for_postcode(*, postcode: str) -> ServiceZone:
    """The active zone with the longest prefix of ``postcode``, or ``OutsideServiceArea``.
    From the cached zones, like ``package_get_active``."""
    best: tuple[int, ServiceZone] | None = None
    for zone in service_zone_list_public():
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


# What the one schedule query returns per row: (kind, date, weekday, start time, number, closed).
_WEEKLY, _OVERRIDE, _HOLDING = 0, 1, 2
_ScheduleRow = tuple[int, datetime.date | None, int | None, datetime.time | None, int | None, bool]


def _schedule_query(*, one_start_time: bool) -> QuerySet:
    """The weekly slots, staff's date overrides in ``[start, end]`` and the bookings holding
    each slot there, as one ``UNION ALL`` of the three: one round trip whatever the range.
    ``one_start_time`` narrows it to one slot (booking creation)."""
    start, end = Param("start", DateField()), Param("end", DateField())
    weekly = TimeSlot.objects.filter(is_active=True)
    overrides = DateOverride.objects.filter(date__range=(start, end))
    holding = Booking.objects.filter(
        event_date__range=(start, end), status__in=Booking.HOLDING_STATUSES
    )
    if one_start_time:
        weekly = weekly.filter(start_time=Param("start_time", TimeField()))
        holding = holding.filter(start_time=Param("start_time", TimeField()))
    # The first branch's output fields convert every row's values (dates and times on SQLite).
    no_date = Value(None, output_field=DateField())
    no_int = Value(None, output_field=IntegerField())
    no_time = Value(None, output_field=TimeField())
    return (
        weekly.order_by()
        .values_list(Value(_WEEKLY), no_date, "weekday", "start_time", "capacity", Value(False))
        .union(
            overrides.order_by().values_list(
                Value(_OVERRIDE), "date", no_int, no_time, "capacity", "is_closed"
            ),
            holding.order_by()
            .values("event_date", "start_time")
            .annotate(taken=Count("id"))
            .values_list(
                Value(_HOLDING), "event_date", no_int, "start_time", "taken", Value(False)
            ),
            all=True,
        )
    )


# Compiled once: the ORM took ~1.7 ms to build this query, the database ~0.05 ms to run it.
_SCHEDULE_FOR_RANGE = PreparedQuery(lambda: _schedule_query(one_start_time=False))
_SCHEDULE_FOR_SLOT = PreparedQuery(lambda: _schedule_query(one_start_time=True))


def _schedule_rows(
    *, start: datetime.date, end: datetime.date, start_time: datetime.time | None = None
) -> list[_ScheduleRow]:
    """``_schedule_query``'s rows for ``[start, end]`` (and one ``start_time``, if given)."""
    if start_time is None:
        rows = _SCHEDULE_FOR_RANGE.rows(start=start, end=end)
    else:
        rows = _SCHEDULE_FOR_SLOT.rows(start=start, end=end, start_time=start_time)
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _slot_use(
    *, start: datetime.date, end: datetime.date, start_time: datetime.time | None = None
) -> dict[datetime.date, dict[datetime.time, tuple[int, int]]]:
    """For each date in ``[start, end]``: start time -> (capacity, bookings holding it), from
    the weekly schedule with staff's overrides applied; closed dates have no slots. One query."""
    by_weekday: dict[int, list[tuple[datetime.time, int]]] = defaultdict(list)
    overrides: dict[datetime.date, tuple[int | None, bool]] = {}
    taken: dict[tuple[datetime.date, datetime.time], int] = {}
    for kind, day, weekday, at, number, closed in _schedule_rows(
        start=start, end=end, start_time=start_time
    ):
        if kind == _WEEKLY:
            by_weekday[weekday].append((at, number))  # type: ignore[index,arg-type]
        elif kind == _OVERRIDE:
            overrides[day] = (number, closed)  # type: ignore[index]
        else:
            taken[(day, at)] = number  # type: ignore[index,assignment]

    use: dict[datetime.date, dict[datetime.time, tuple[int, int]]] = {}
    # Counted, not stepped past ``end``: the day after date.max does not exist.
    for offset in range((end - start).days + 1):
        day = start + datetime.timedelta(days=offset)
        override_capacity, closed = overrides.get(day, (None, False))
        slots: dict[datetime.time, tuple[int, int]] = {}
        if not closed:
            for at, capacity in by_weekday[day.weekday()]:
                if override_capacity is not None:
                    capacity = override_capacity
                slots[at] = (capacity, taken.get((day, at), 0))
        use[day] = slots
    return use


# In L1 too: a 30-day answer is 30 entries, a few hundred bytes each.
@cache_many(ttl=300, key=caching.availability_day_key, l1=True)
def slot_use_by_date(
    dates: list[datetime.date],
) -> dict[datetime.date, dict[datetime.time, tuple[int, int]]]:
    """For each of ``dates``: start time -> (capacity, bookings holding the slot). What the
    database says, without the clock, so it can be cached per date. One query for the span
    of the dates missing from the cache."""
    wanted = set(dates)
    use = _slot_use(start=min(wanted), end=max(wanted))
    return {day: slots for day, slots in use.items() if day in wanted}


def availability_for_range(
    *, start: datetime.date, end: datetime.date, now: datetime.datetime | None = None
) -> list[DayAvailability]:
    """One entry per date in ``[start, end]``. Slots that cannot be booked (too soon, too far
    ahead) show ``remaining: 0``; closed dates have no slots. At most one query (none when
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


def slot_check_bookable(
    *, date: datetime.date, start_time: datetime.time, now: datetime.datetime | None = None
) -> None:
    """``SlotUnavailable`` if the slot is too soon or too far ahead (the clock only)."""
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


def slot_use(*, date: datetime.date, start_time: datetime.time) -> tuple[int, int]:
    """(capacity, bookings holding the slot) in one query; ``SlotUnavailable`` if the slot is
    closed or not on the schedule. Booking creation calls it under the slot's lock."""
    capacity, taken = _slot_use(start=date, end=date, start_time=start_time)[date].get(
        start_time, (0, 0)
    )
    if not capacity:
        raise SlotUnavailable("We have no chef available at this date and time.")
    return capacity, taken


def slot_capacity(
    *, date: datetime.date, start_time: datetime.time, now: datetime.datetime | None = None
) -> int:
    """The capacity of a bookable slot; ``SlotUnavailable`` if it is closed, not on the
    schedule, too soon or too far ahead."""
    slot_check_bookable(date=date, start_time=start_time, now=now)
    return slot_use(date=date, start_time=start_time)[0]


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


class BookingRow(NamedTuple):
    """A booking as its customer sees it (``BookingSerializer``'s fields): its columns, its
    package's name and ``amount_paid``. The customer's reads fetch these as plain rows with
    compiled queries: model instances, the ORM's compilation and a ``ModelSerializer`` cost
    ~0.2 ms a booking around queries the database answers in well under a millisecond."""

    id: int
    status: str
    package_id: int
    package_name: str
    event_date: datetime.date
    start_time: datetime.time
    adults: int
    children: int
    address: str
    postcode: str
    notes: str
    subtotal: int
    travel_fee: int
    total: int
    deposit_due: int
    currency: str
    amount_paid: int
    created_at: datetime.datetime

    @classmethod
    def of(cls, booking: Booking, *, amount_paid: int) -> BookingRow:
        """The row of a booking in hand (its package loaded), e.g. one just created."""
        derived = {"package_name": booking.package.name, "amount_paid": amount_paid}
        values = {n: derived[n] if n in derived else getattr(booking, n) for n in cls._fields}
        return cls(**values)


def booking_rows(*, customer_id: int | None = None) -> QuerySet[Booking, BookingRow]:
    """Bookings as ``BookingRow``s (named rows), newest first; only ``customer_id``'s if given."""
    bookings = (
        Booking.objects.all()
        if customer_id is None
        else Booking.objects.filter(customer_id=customer_id)
    )
    return (
        bookings.annotate(package_name=F("package__name"), amount_paid=_amount_paid_expression())
        .order_by("-created_at", "-id")
        .values_list(*BookingRow._fields, named=True)
    )


def _amount_paid_expression() -> Combinable:
    """A booking's ``amount_paid`` as an annotation. What counts as paid is the payments app's
    rule; payments builds on bookings, so its expression is named in settings
    (``BOOKING_AMOUNT_PAID_EXPRESSION``) rather than imported."""
    expression: Callable[[], Combinable] = import_string(settings.BOOKING_AMOUNT_PAID_EXPRESSION)
    return expression()


@functools.cache  # one per page size: at most API_MAX_PAGE_SIZE of them
def _first_rows_query(limit: int) -> PreparedQuery:
    customer = Param("customer", BigIntegerField())
    return PreparedQuery(lambda: booking_rows().filter(customer_id=customer)[:limit])


_ONE_BOOKING = PreparedQuery(
    lambda: booking_rows().filter(
        customer_id=Param("customer", BigIntegerField()), id=Param("booking", BigIntegerField())
    )
)


def booking_first_rows(*, customer_id: int, limit: int) -> list[BookingRow]:
    """The customer's newest ``limit`` bookings (a first page: ``booking_rows``' first rows)."""
    rows = _first_rows_query(limit).rows(customer=customer_id)
    return [BookingRow._make(row) for row in rows]


def booking_get_for_customer(*, customer_id: int, booking_id: int) -> BookingRow:
    """The customer's own booking; anyone else's is ``NotFound`` (never reveal it exists)."""
    rows = _ONE_BOOKING.rows(customer=customer_id, booking=booking_id)
    if not rows:
        raise NotFound("Booking not found.")
    return BookingRow._make(rows[0])


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
