"""Rows for the reviews tests, made directly through the ORM."""

import datetime
import itertools
from typing import Any

from django.utils import timezone

from accounts.models import User
from bookings.models import Booking, Package
from reviews.models import Review

_sequence = itertools.count(1)


def make_package(**fields: Any) -> Package:
    n = next(_sequence)
    defaults: dict[str, Any] = {
        "name": f"Test package {n}",
        "price_per_adult": 6000,
        "price_per_child": 3000,
    }
    return Package.objects.create(**{**defaults, **fields})


def make_booking(
    *,
    customer: User,
    status: str = Booking.Status.COMPLETED,
    package: Package | None = None,
    **fields: Any,
) -> Booking:
    """A booking as if made weeks ago, in ``status`` (completed by default)."""
    subtotal, travel_fee = 60000, 2500
    event_date = timezone.localdate() - datetime.timedelta(days=14)
    defaults: dict[str, Any] = {
        "event_date": event_date,
        "start_time": datetime.time(18, 0),
        "adults": 10,
        "address": "1 Grill Street, Los Angeles, CA",
        "postcode": "90001",
        "subtotal": subtotal,
        "travel_fee": travel_fee,
        "total": subtotal + travel_fee,
        "deposit_due": (subtotal + travel_fee) // 5,
    }
    if status == Booking.Status.COMPLETED:
        defaults["completed_at"] = timezone.now() - datetime.timedelta(days=13)
    return Booking.objects.create(
        customer=customer,
        package=package or make_package(),
        status=status,
        **{**defaults, **fields},
    )


def make_review(
    *,
    customer: User,
    booking: Booking | None = None,
    rating: int = 5,
    status: str = Review.Status.APPROVED,
    **fields: Any,
) -> Review:
    defaults: dict[str, Any] = {"title": "Great night", "body": "The chef was fantastic."}
    return Review.objects.create(
        booking=booking or make_booking(customer=customer),
        customer=customer,
        rating=rating,
        status=status,
        **{**defaults, **fields},
    )
