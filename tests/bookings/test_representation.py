"""A customer's booking answers are built from plain rows (``booking_representation``), and
``BookingSerializer`` stays the schema's description of them: every answer that carries a
booking must be exactly what the serializer gives for the same booking."""

from __future__ import annotations

import datetime

import pytest

from bookings import selectors
from bookings.api.serializers import (
    BookingSerializer,
    DayAvailabilitySerializer,
    booking_representation,
)
from bookings.models import Booking, DateOverride
from payments.models import Payment
from tests.bookings.conftest import days_ahead, make_booking, order
from tests.conftest import assert_error, client_for, make_customer

pytestmark = pytest.mark.django_db

URL = "/api/v1/bookings/"


def serializer_answer(booking_id: int) -> dict:
    """What ``BookingSerializer`` says of the booking, ``amount_paid`` annotated by the same
    rule as the reads (the ORM path the answers used before)."""
    booking = (
        Booking.objects.select_related("package")
        .annotate(amount_paid=selectors._amount_paid_expression())
        .get(pk=booking_id)
    )
    return dict(BookingSerializer(booking).data)


@pytest.fixture
def varied(catalogue):
    """Bookings that differ in every field the answer formats: statuses, payments (collected,
    refunded, failed), notes with quotes and non-ASCII text, no children, a midnight start."""
    customer = make_customer("varied@example.com")
    paid = make_booking(catalogue, customer, event_date=days_ahead(5))
    Payment.objects.create(
        booking=paid, kind="deposit", amount=12_345, provider="manual", status="succeeded"
    )
    Payment.objects.create(
        booking=paid, kind="refund", amount=45, provider="manual", status="succeeded"
    )
    Payment.objects.create(
        booking=paid, kind="balance", amount=99, provider="manual", status="failed"
    )
    cancelled = make_booking(
        catalogue, customer, event_date=days_ahead(6), status=Booking.Status.CANCELLED
    )
    quirky = make_booking(catalogue, customer, event_date=days_ahead(7))
    Booking.objects.filter(pk=quirky.pk).update(
        notes='Say "hola" — señora Ñandú\n2nd line', children=0, start_time=datetime.time(0, 0)
    )
    return customer, [paid, cancelled, quirky]


def test_list_detail_and_rows_answer_what_the_serializer_gives(varied):
    customer, bookings = varied
    client = client_for(customer)
    expected = {b.pk: serializer_answer(b.pk) for b in bookings}
    assert expected[bookings[0].pk]["amount_paid"] == 12_300  # the fixture is what it says

    # the first page (compiled query), a cursor page (the ORM's) and each detail
    first = client.get(f"{URL}?page_size=2").json()
    second = client.get(first["next"]).json()
    listed = first["results"] + second["results"]
    assert [item["id"] for item in listed] == sorted(expected, reverse=True)
    for item in listed:
        assert item == expected[item["id"]]
    for booking in bookings:
        assert client.get(f"{URL}{booking.pk}/").json() == expected[booking.pk]
        row = selectors.booking_get_for_customer(customer_id=customer.pk, booking_id=booking.pk)
        assert booking_representation(row) == expected[booking.pk]


def test_a_created_and_a_cancelled_booking_answer_what_the_serializer_gives(
    customer_client, catalogue
):
    created = customer_client.post(URL, order(catalogue), format="json")
    assert created.status_code == 201
    assert created.json() == serializer_answer(created.json()["id"])
    cancelled = customer_client.post(f"{URL}{created.json()['id']}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json() == serializer_answer(created.json()["id"])


def test_another_customers_booking_is_not_found(varied, other_client):
    _customer, bookings = varied
    assert_error(other_client.get(f"{URL}{bookings[0].pk}/"), 404, "not_found")


def test_availability_answers_what_the_serializer_gives(catalogue, api_client):
    # a range from today (too soon: remaining 0), with a closed date, a date of another
    # capacity and a booking holding a slot
    DateOverride.objects.create(date=days_ahead(6), is_closed=True)
    DateOverride.objects.create(date=days_ahead(7), capacity=5)
    make_booking(catalogue, make_customer("holder@example.com"), event_date=days_ahead(5))
    start, end = days_ahead(0), days_ahead(29)
    days = selectors.availability_for_range(start=start, end=end)
    expected = DayAvailabilitySerializer(days, many=True).data
    assert any(day["slots"] == [] for day in expected)  # the fixture has a closed date
    assert {slot["remaining"] for day in expected for slot in day["slots"]} >= {0, 1, 2, 5}
    response = api_client.get(f"{URL}availability/?start={start}&end={end}")
    assert response.status_code == 200
    assert response.json() == [dict(day) for day in expected]
