"""Staff do their daily work in the admin: every page loads, actions move bookings."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from bookings.models import Booking, Chef, DateOverride, Package, ServiceZone, Slot, TimeSlot
from tests.bookings.conftest import make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def run_action(staff_client, action: str, bookings: list[Booking]):
    return staff_client.post(
        reverse("admin:bookings_booking_changelist"),
        {"action": action, "_selected_action": [b.pk for b in bookings]},
        follow=True,
    )


def test_confirm_then_complete(staff_client, catalogue, customer):
    booking = make_booking(catalogue, customer)
    run_action(staff_client, "confirm_bookings", [booking])
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    run_action(staff_client, "complete_bookings", [booking])
    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED


def test_refused_transitions_are_reported_not_500(staff_client, catalogue, customer):
    pending = make_booking(catalogue, customer)
    completed = make_booking(catalogue, customer, status=Booking.Status.COMPLETED)
    response = run_action(staff_client, "complete_bookings", [pending, completed])
    assert response.status_code == 200
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(f"#{pending.pk}" in t for t in texts)
    pending.refresh_from_db()
    assert pending.status == Booking.Status.PENDING


def test_staff_cancel_ignores_the_customer_window(staff_client, catalogue, customer):
    booking = make_booking(catalogue, customer)
    run_action(staff_client, "cancel_bookings", [booking])
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


@pytest.mark.parametrize(
    "model", [Booking, Package, ServiceZone, TimeSlot, DateOverride, Chef, Slot]
)
def test_every_page_loads(staff_client, catalogue, customer, model):
    booking = make_booking(catalogue, customer)
    objects = {Booking: booking, Package: catalogue.package, ServiceZone: catalogue.local_zone}
    meta = model._meta
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(changelist, {"q": "90012"}).status_code == 200
    instance = objects.get(model) or model.objects.first()
    if instance is not None:
        change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[instance.pk])
        assert staff_client.get(change).status_code == 200


def test_booking_changelist_query_count_is_constant(
    staff_client, catalogue, customer, django_assert_max_num_queries
):
    url = reverse("admin:bookings_booking_changelist")
    make_booking(catalogue, customer)
    with django_assert_max_num_queries(20) as small:
        staff_client.get(url)
    for _ in range(10):
        Booking.objects.create(
            customer=customer,
            package=catalogue.package,
            event_date="2030-01-01",
            start_time="18:00",
            adults=10,
            address="x",
            postcode="90012",
            subtotal=1,
            travel_fee=0,
            total=1,
            deposit_due=1,
        )
    with django_assert_max_num_queries(20) as large:
        staff_client.get(url)
    assert len(large.captured_queries) == len(small.captured_queries)
