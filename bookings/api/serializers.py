import datetime
import functools
from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from bookings.models import Booking, Package, ServiceZone
from bookings.selectors import BookingRow, DayAvailability
from core.http.serializers import (
    HourMinuteField,
    MoneyField,
    PrebuiltFieldsMixin,
    QuerySerializer,
    StrictInputSerializer,
    StrictIntegerField,
    datetime_text,
)

# US ZIP code: 5 digits, optionally ZIP+4.
POSTCODE_REGEX = r"^\d{5}(-\d{4})?$"
MAX_PARTY = 1000  # far above any package; only keeps absurd numbers out of the arithmetic


class PackageSerializer(serializers.ModelSerializer):
    price_per_adult = MoneyField()
    price_per_child = MoneyField()
    minimum_total = MoneyField()

    class Meta:
        model = Package
        fields = [
            "id",
            "name",
            "description",
            "price_per_adult",
            "price_per_child",
            "minimum_total",
            "min_guests",
            "max_guests",
            "currency",
        ]


class ServiceZoneSerializer(serializers.ModelSerializer):
    postcode_prefixes = serializers.ListField(child=serializers.CharField())
    travel_fee = MoneyField()

    class Meta:
        model = ServiceZone
        fields = ["name", "postcode_prefixes", "travel_fee"]


class ServiceAreaSerializer(serializers.Serializer):
    zones = ServiceZoneSerializer(many=True)
    currency = serializers.CharField()


class AvailabilityQuerySerializer(QuerySerializer):
    start = serializers.DateField()
    end = serializers.DateField()


class SlotAvailabilitySerializer(serializers.Serializer):
    start_time = HourMinuteField()
    capacity = serializers.IntegerField()
    remaining = serializers.IntegerField()


class DayAvailabilitySerializer(serializers.Serializer):
    date = serializers.DateField()
    slots = SlotAvailabilitySerializer(many=True)


class QuoteInputSerializer(StrictInputSerializer):
    package = StrictIntegerField(min_value=1, max_value=2**31 - 1)
    event_date = serializers.DateField()
    start_time = serializers.TimeField()
    adults = StrictIntegerField(min_value=1, max_value=MAX_PARTY)
    children = StrictIntegerField(min_value=0, max_value=MAX_PARTY, default=0)
    postcode = serializers.RegexField(
        POSTCODE_REGEX, max_length=10, error_messages={"invalid": "Enter a US ZIP code."}
    )


class BookingInputSerializer(QuoteInputSerializer):
    address = serializers.CharField(max_length=300)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class QuoteSerializer(serializers.Serializer):
    subtotal = MoneyField()
    travel_fee = MoneyField()
    total = MoneyField()
    deposit_due = MoneyField()
    currency = serializers.CharField()


class BookingSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    package = serializers.IntegerField(source="package_id")
    package_name = serializers.CharField(source="package.name")
    start_time = HourMinuteField()
    quote = QuoteSerializer(source="*", read_only=True)
    amount_paid = MoneyField()

    class Meta:
        model = Booking
        fields = [
            "id",
            "status",
            "package",
            "package_name",
            "event_date",
            "start_time",
            "adults",
            "children",
            "address",
            "postcode",
            "notes",
            "quote",
            "amount_paid",
            "created_at",
        ]


# The fields whose representation is not the value itself (BookingSerializer's and
# DayAvailabilitySerializer's).
_DATE = serializers.DateField()
_START_TIME = HourMinuteField()


@functools.lru_cache(maxsize=1024)  # the schedule has a handful of start times
def _hour_minute(at: datetime.time) -> str:
    return str(_START_TIME.to_representation(at))


def availability_representation(days: list[DayAvailability]) -> list[dict[str, Any]]:
    """``DayAvailabilitySerializer(days, many=True)``'s answer, built straight from the days
    (DRF's serializer walk was ~30 % of a cached 30-day answer's CPU). The serializer stays
    the schema's description; tests/bookings/test_representation.py keeps the two equal."""
    return [
        {
            "date": _DATE.to_representation(day.date),
            "slots": [
                {
                    "start_time": _hour_minute(slot.start_time),
                    "capacity": slot.capacity,
                    "remaining": slot.remaining,
                }
                for slot in day.slots
            ],
        }
        for day in days
    ]


def booking_representation(row: BookingRow, *, zone: tzinfo | None = None) -> dict[str, Any]:
    """``BookingSerializer``'s answer for a booking, built straight from its row: the
    customer's reads and booking creation answer with this (DRF's generic serializer walk
    cost ~0.1 ms a booking). ``BookingSerializer`` stays the schema's description of it;
    tests/bookings/test_representation.py keeps the two equal. ``zone``: the current time
    zone, when the caller formats many bookings (``booking_representations``)."""
    return {
        "id": row.id,
        "status": row.status,
        "package": row.package_id,
        "package_name": row.package_name,
        "event_date": _DATE.to_representation(row.event_date),
        "start_time": _hour_minute(row.start_time),
        "adults": row.adults,
        "children": row.children,
        "address": row.address,
        "postcode": row.postcode,
        "notes": row.notes,
        "quote": {
            "subtotal": row.subtotal,
            "travel_fee": row.travel_fee,
            "total": row.total,
            "deposit_due": row.deposit_due,
            "currency": row.currency,
        },
        "amount_paid": row.amount_paid,
        "created_at": datetime_text(row.created_at, zone or timezone.get_current_timezone()),
    }


def booking_representations(rows: Iterable[BookingRow]) -> list[dict[str, Any]]:
    """``booking_representation`` of each row, the time zone looked up once."""
    zone = timezone.get_current_timezone()
    return [booking_representation(row, zone=zone) for row in rows]
