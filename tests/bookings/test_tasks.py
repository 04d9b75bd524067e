"""Bookings housekeeping: confirmed bookings become completed some hours after their event."""

import datetime

import pytest
from django.utils import timezone

from bookings import selectors, services
from bookings.models import Booking
from bookings.tasks import complete_past_bookings
from tests.bookings.conftest import EVENING, catalogue, make_booking  # noqa: F401 (fixture)
from tests.conftest import make_customer

pytestmark = pytest.mark.django_db


def on(catalogue, email: str, *, days_ago: int, status: str):  # noqa: F811
    booking = make_booking(catalogue, make_customer(email), status=status)
    Booking.objects.filter(pk=booking.pk).update(
        event_date=timezone.localdate() - datetime.timedelta(days=days_ago)
    )
    return booking


def test_confirmed_events_over_for_the_delay_are_completed(catalogue, settings):  # noqa: F811
    settings.BOOKING_AUTO_COMPLETE_AFTER_HOURS = 6
    done = on(catalogue, "a@example.com", days_ago=2, status=Booking.Status.CONFIRMED)
    pending = on(catalogue, "b@example.com", days_ago=2, status=Booking.Status.PENDING)
    upcoming = make_booking(catalogue, make_customer("c@example.com"), status="confirmed")
    # an event that started 5 hours ago: not yet (the delay is 6)
    start = selectors.event_start(date=timezone.localdate(), start_time=EVENING)
    now = start + datetime.timedelta(hours=5)
    today = on(catalogue, "d@example.com", days_ago=0, status=Booking.Status.CONFIRMED)

    assert services.bookings_complete_past(now=now) == 1
    assert services.bookings_complete_past(now=now) == 0  # safe to run again

    statuses = dict(Booking.objects.values_list("pk", "status"))
    assert statuses[done.pk] == "completed"
    assert statuses[pending.pk] == "pending"  # never confirmed: staff decide
    assert statuses[upcoming.pk] == "confirmed"
    assert statuses[today.pk] == "confirmed"
    # an hour later it is over for the delay too
    assert services.bookings_complete_past(now=now + datetime.timedelta(hours=1, minutes=1)) == 1


def test_the_beat_task_runs_the_service(catalogue):  # noqa: F811
    on(catalogue, "a@example.com", days_ago=3, status=Booking.Status.CONFIRMED)
    assert complete_past_bookings.apply().get() == 1
    assert Booking.objects.get().status == "completed"
