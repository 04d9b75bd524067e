"""Realistic demo data for the bookings app, idempotent and fast at load-test volumes."""

import datetime
import random
from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking, Chef, Package, ServiceZone, TimeSlot
from bookings.selectors import quote_calculate

BATCH_SIZE = 2000
DEMO_EMAIL_DOMAIN = "demo.myhibachi.com"

PACKAGES = [
    # name, description, per adult, per child, minimum total (cents), min, max guests
    (
        "Classic Hibachi",
        "Fried rice, vegetables, salad, chicken and steak.",
        6000,
        3000,
        60000,
        8,
        30,
    ),
    (
        "Premium Surf & Turf",
        "Filet mignon, lobster tail, scallops and shrimp.",
        9500,
        4500,
        90000,
        8,
        30,
    ),
    ("Family Feast", "A generous spread for family gatherings.", 5500, 2500, 50000, 10, 40),
    ("Corporate Grill", "Team events with a show; invoices available.", 7500, 3500, 150000, 20, 60),
]
ZONES = [
    # name, ZIP prefixes, travel fee (cents)
    ("Los Angeles", ["900", "901", "902", "903", "904", "905"], 0),
    ("Orange County", ["926", "927", "928"], 5000),
    ("San Diego", ["919", "920", "921"], 10000),
    ("Bay Area", ["940", "941", "943", "944", "945", "950", "951"], 7500),
]
SCHEDULE = [(datetime.time(12, 0), 2), (datetime.time(16, 0), 4), (datetime.time(19, 0), 4)]
CHEFS = ["Kenji Sato", "Maria Lopez", "Hiro Tanaka", "Aiko Mori", "David Kim", "Lucas Silva"]
STREETS = ["Maple Ave", "Ocean Blvd", "Sunset Dr", "Oak St", "Palm Way", "Hillcrest Rd"]


def seed_catalogue() -> None:
    """Packages, service zones, the weekly schedule and chefs (update_or_create: idempotent)."""
    for order, (name, description, adult, child, minimum, low, high) in enumerate(PACKAGES):
        Package.objects.update_or_create(
            name=name,
            defaults={
                "description": description,
                "price_per_adult": adult,
                "price_per_child": child,
                "minimum_total": minimum,
                "min_guests": low,
                "max_guests": high,
                "sort_order": order,
            },
        )
    for name, prefixes, fee in ZONES:
        ServiceZone.objects.update_or_create(
            name=name, defaults={"postcode_prefixes": prefixes, "travel_fee": fee}
        )
    for weekday in TimeSlot.Weekday.values:
        for start_time, capacity in SCHEDULE:
            TimeSlot.objects.get_or_create(
                weekday=weekday, start_time=start_time, defaults={"capacity": capacity}
            )
    for name in CHEFS:
        Chef.objects.get_or_create(name=name)


def seed_customers(*, count: int, progress: Callable[[int], None] | None = None) -> list[User]:
    """``count`` demo customers (customer000001@demo...). Passwords are unusable: these
    accounts exist to own data, not to log in."""
    wanted = [f"customer{n:06d}@{DEMO_EMAIL_DOMAIN}" for n in range(1, count + 1)]
    existing = set(User.objects.filter(email__in=wanted).values_list("email", flat=True))
    missing = [email for email in wanted if email not in existing]
    for start in range(0, len(missing), BATCH_SIZE):
        batch = []
        for email in missing[start : start + BATCH_SIZE]:
            user = User(email=email, name=f"Demo Customer {email[8:14]}")
            user.set_unusable_password()
            batch.append(user)
        User.objects.bulk_create(batch)
        if progress:
            progress(start + len(batch))
    return list(User.objects.filter(email__in=wanted).order_by("pk"))


def seed_bookings(
    *,
    count: int,
    customers: Sequence[User],
    progress: Callable[[int], None] | None = None,
    today: datetime.date | None = None,
) -> int:
    """Top the demo customers' bookings up to ``count``: past events completed or cancelled,
    future ones pending, confirmed or cancelled, never more per slot than its capacity.
    Returns how many were created."""
    existing = Booking.objects.filter(customer__in=customers).count()
    if existing >= count or not customers:
        return 0
    today = today or timezone.localdate()
    rng = random.Random(existing)
    packages = list(Package.objects.filter(is_active=True))
    zones = list(ServiceZone.objects.filter(is_active=True))
    # Places already taken, so a top-up run never overfills a slot either.
    taken: dict[tuple[datetime.date, datetime.time], int] = {
        (row["event_date"], row["start_time"]): row["n"]
        for row in Booking.objects.exclude(status=Booking.Status.CANCELLED)
        .values("event_date", "start_time")
        .annotate(n=Count("id"))
        .order_by()
    }
    created = 0
    batch: list[Booking] = []
    for event_date, start_time, capacity in _slots_from(today, rng, count):
        if created >= count - existing:
            break
        key = (event_date, start_time)
        if taken.get(key, 0) >= capacity:
            continue
        taken[key] = taken.get(key, 0) + 1
        batch.append(_demo_booking(rng, customers, packages, zones, event_date, start_time, today))
        created += 1
        if len(batch) == BATCH_SIZE:
            Booking.objects.bulk_create(batch)
            batch.clear()
            if progress:
                progress(created)
    Booking.objects.bulk_create(batch)
    if progress:
        progress(created)
    return created


def _slots_from(
    today: datetime.date, rng: random.Random, count: int
) -> Iterable[tuple[datetime.date, datetime.time, int]]:
    """Random slots, busier at weekends, from up to six months ahead back as far as ``count``
    bookings need to fill about half of the schedule's capacity (two years at least)."""
    daily_capacity = sum(capacity for _, capacity in SCHEDULE)
    past_days = max(730, 2 * count // daily_capacity)
    while True:
        event_date = today + datetime.timedelta(days=rng.randint(-past_days, 180))
        if event_date.weekday() < 4 and rng.random() < 0.5:
            continue
        start_time, capacity = rng.choice(SCHEDULE)
        yield event_date, start_time, capacity


def _demo_booking(
    rng: random.Random,
    customers: Sequence[User],
    packages: list[Package],
    zones: list[ServiceZone],
    event_date: datetime.date,
    start_time: datetime.time,
    today: datetime.date,
) -> Booking:
    package = rng.choice(packages)
    zone = rng.choice(zones)
    postcode = rng.choice(zone.postcode_prefixes).ljust(5, str(rng.randint(0, 9)))
    adults = rng.randint(package.min_guests, max(package.min_guests, package.max_guests - 5))
    children = rng.randint(0, min(5, package.max_guests - adults))
    quote = quote_calculate(package=package, adults=adults, children=children, postcode=postcode)
    now = timezone.now()
    if event_date < today:
        status = Booking.Status.COMPLETED if rng.random() < 0.85 else Booking.Status.CANCELLED
    else:
        status = rng.choices(
            [Booking.Status.PENDING, Booking.Status.CONFIRMED, Booking.Status.CANCELLED],
            weights=[4, 5, 1],
        )[0]
    return Booking(
        customer=rng.choice(customers),
        package=package,
        status=status,
        event_date=event_date,
        start_time=start_time,
        adults=adults,
        children=children,
        address=f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
        postcode=postcode,
        subtotal=quote.subtotal,
        travel_fee=quote.travel_fee,
        total=quote.total,
        deposit_due=quote.deposit_due,
        currency=settings.BOOKING_CURRENCY,
        confirmed_at=now
        if status in (Booking.Status.CONFIRMED, Booking.Status.COMPLETED)
        else None,
        completed_at=now if status == Booking.Status.COMPLETED else None,
        cancelled_at=now if status == Booking.Status.CANCELLED else None,
    )
