import datetime

import pytest
from django.utils import timezone

from bookings import services
from bookings.errors import InvalidStatusTransition, SlotFull, SlotUnavailable, TooLateToCancel
from bookings.models import Booking, DateOverride, Slot
from tests.bookings.conftest import EVENING, days_ahead, make_booking
from tests.conftest import make_customer

pytestmark = pytest.mark.django_db


def test_create_stores_the_quote_in_pending(catalogue, customer):
    booking = make_booking(catalogue, customer)
    assert booking.status == Booking.Status.PENDING
    assert (booking.subtotal, booking.travel_fee, booking.total) == (66000, 0, 66000)
    assert booking.deposit_due == 13200
    assert Slot.objects.filter(date=booking.event_date, start_time=EVENING).count() == 1


def test_create_refuses_a_full_slot(catalogue, customer):
    # given a slot with capacity 2, both taken
    make_booking(catalogue, customer)
    make_booking(catalogue, make_customer("b@example.com"))
    # when / then
    with pytest.raises(SlotFull):
        make_booking(catalogue, make_customer("c@example.com"))
    assert Booking.objects.count() == 2


def test_cancelled_bookings_free_their_place(catalogue, customer):
    first = make_booking(catalogue, customer)
    make_booking(catalogue, customer)
    services.booking_cancel(booking_id=first.pk)
    assert make_booking(catalogue, customer).status == Booking.Status.PENDING


def test_create_refuses_a_closed_date(catalogue, customer):
    DateOverride.objects.create(date=days_ahead(10), is_closed=True)
    with pytest.raises(SlotUnavailable):
        make_booking(catalogue, customer)


class TestCancel:
    def test_customer_can_cancel_more_than_48_hours_ahead(self, catalogue, customer):
        booking = make_booking(catalogue, customer)
        starts = timezone.make_aware(datetime.datetime.combine(booking.event_date, EVENING))
        cancelled = services.booking_cancel(
            booking_id=booking.pk, now=starts - datetime.timedelta(hours=48, minutes=1)
        )
        assert cancelled.status == Booking.Status.CANCELLED
        assert cancelled.cancelled_at is not None

    def test_customer_cannot_cancel_within_48_hours(self, catalogue, customer):
        booking = make_booking(catalogue, customer)
        starts = timezone.make_aware(datetime.datetime.combine(booking.event_date, EVENING))
        with pytest.raises(TooLateToCancel):
            services.booking_cancel(
                booking_id=booking.pk, now=starts - datetime.timedelta(hours=48)
            )
        booking.refresh_from_db()
        assert booking.status == Booking.Status.PENDING

    def test_staff_can_cancel_any_time(self, catalogue, customer):
        booking = make_booking(catalogue, customer)
        starts = timezone.make_aware(datetime.datetime.combine(booking.event_date, EVENING))
        cancelled = services.booking_cancel(booking_id=booking.pk, by_staff=True, now=starts)
        assert cancelled.status == Booking.Status.CANCELLED

    def test_completed_booking_cannot_be_cancelled(self, catalogue, customer):
        booking = make_booking(catalogue, customer, status=Booking.Status.COMPLETED)
        with pytest.raises(InvalidStatusTransition):
            services.booking_cancel(booking_id=booking.pk, by_staff=True)


def test_staff_lifecycle_confirm_assign_complete(catalogue, customer):
    from bookings.models import Chef

    booking = make_booking(catalogue, customer)
    chef = Chef.objects.create(name="Kenji")
    services.booking_confirm(booking_id=booking.pk)
    services.booking_assign_chef(booking_id=booking.pk, chef=chef)
    done = services.booking_complete(booking_id=booking.pk)
    assert done.status == Booking.Status.COMPLETED
    assert done.chef == chef
    assert done.confirmed_at and done.completed_at
    with pytest.raises(InvalidStatusTransition):
        services.booking_confirm(booking_id=booking.pk)
