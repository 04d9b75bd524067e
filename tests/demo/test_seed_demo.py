"""`manage.py seed_demo --bookings N`: the booking volume apart from the scale (the benchmark
needs ~60k bookings for 50k reviews, which exist only for completed bookings)."""

import io

import pytest
from django.core.management import call_command

from bookings.models import Booking


@pytest.mark.django_db
def test_bookings_flag_sets_the_booking_volume_apart_from_the_scale() -> None:
    # when
    call_command("seed_demo", scale=1, bookings=7, no_staff=True, stdout=io.StringIO())

    # then: 7 bookings instead of the scale's 40; the other volumes follow the scale
    assert Booking.objects.count() == 7
