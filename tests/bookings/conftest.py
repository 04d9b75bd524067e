"""A small catalogue: one package, two zones, an 18:00 slot every day with two chef teams."""

import datetime
from dataclasses import dataclass

import pytest
from django.utils import timezone

from accounts.models import User
from bookings import services
from bookings.models import Booking, Package, ServiceZone, TimeSlot

EVENING = datetime.time(18, 0)


@dataclass
class Catalogue:
    package: Package
    local_zone: ServiceZone
    far_zone: ServiceZone


@pytest.fixture
def catalogue(db) -> Catalogue:
    package = Package.objects.create(
        name="Classic",
        price_per_adult=6000,
        price_per_child=3000,
        minimum_total=60000,
        min_guests=2,
        max_guests=30,
    )
    local = ServiceZone.objects.create(name="LA", postcode_prefixes=["900"], travel_fee=0)
    far = ServiceZone.objects.create(name="LA West", postcode_prefixes=["9004"], travel_fee=2500)
    for weekday in TimeSlot.Weekday.values:
        TimeSlot.objects.create(weekday=weekday, start_time=EVENING, capacity=2)
    return Catalogue(package=package, local_zone=local, far_zone=far)


def days_ahead(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def order(catalogue: Catalogue, **overrides: object) -> dict:
    """A valid booking request body (the quote body plus address and notes)."""
    body = {
        "package": catalogue.package.pk,
        "event_date": days_ahead(10).isoformat(),
        "start_time": "18:00",
        "adults": 10,
        "children": 2,
        "postcode": "90012",
        "address": "1 Grand Ave, Los Angeles",
        "notes": "Nut allergy at table two.",
    }
    body.update(overrides)
    return body


def make_booking(
    catalogue: Catalogue,
    customer: User,
    *,
    event_date: datetime.date | None = None,
    status: str = Booking.Status.PENDING,
) -> Booking:
    """A booking through the service, then moved to ``status`` directly."""
    booking = services.booking_create(
        customer=customer,
        package_id=catalogue.package.pk,
        event_date=event_date or days_ahead(10),
        start_time=EVENING,
        adults=10,
        children=2,
        postcode="90012",
        address="1 Grand Ave",
    )
    if status != Booking.Status.PENDING:
        Booking.objects.filter(pk=booking.pk).update(status=status)
        booking.refresh_from_db()
    return booking
