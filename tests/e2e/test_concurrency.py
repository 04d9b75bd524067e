"""Concurrency claims of API.md proven on the real PostgreSQL: many requests at the same
instant, each on its own database connection, through the whole API stack."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from bookings.models import Booking
from payments.models import Payment
from tests.bookings.conftest import catalogue, make_booking, order  # noqa: F401 (fixture)
from tests.conftest import client_for, make_customer

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 60


@pytest.fixture(autouse=True)
def _postgres_only(pg_cluster):
    assert connection.vendor == "postgresql"


def at_once(count: int, request) -> list:
    """Run ``request(i)`` in ``count`` threads released together; return the responses."""
    barrier = threading.Barrier(count, timeout=TIMEOUT)

    def run(index: int):
        try:
            barrier.wait()
            return request(index)
        finally:
            connections.close_all()  # each thread had its own connection

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count), timeout=TIMEOUT))


def test_20_requests_for_the_last_place_book_it_once(catalogue):  # noqa: F811
    # given a slot of capacity 2 with one place taken
    make_booking(catalogue, make_customer("first@example.com"))
    clients = [client_for(make_customer(f"racer{i}@example.com")) for i in range(20)]
    # when 20 customers book it at the same instant
    responses = at_once(
        20, lambda i: clients[i].post("/api/v1/bookings/", order(catalogue), format="json")
    )
    # then exactly one wins; the others are told the slot is full
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 19}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"slot_full"}
    assert Booking.objects.count() == 2


def test_10_payments_with_one_idempotency_key_create_one_payment(catalogue):  # noqa: F811
    customer = make_customer("payer@example.com")
    booking = make_booking(catalogue, customer)
    clients = [client_for(customer) for _ in range(10)]
    body = {"booking": booking.pk, "kind": "deposit", "amount": booking.deposit_due}
    responses = at_once(
        10,
        lambda i: clients[i].post(
            "/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="race-key"
        ),
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1  # every response the same body
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
    assert Payment.objects.count() == 1


def test_concurrent_balance_payments_never_exceed_the_total(catalogue):  # noqa: F811
    customer = make_customer("payer2@example.com")
    booking = make_booking(catalogue, customer)
    client = client_for(customer)
    owed = booking.total
    # ten different keys, each asking for 30 % of the total at once
    part = owed * 30 // 100
    body = {"booking": booking.pk, "kind": "balance", "amount": part}
    responses = at_once(
        10,
        lambda i: client.post(
            "/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k{i}"
        ),
    )
    assert Counter(r.status_code for r in responses)[201] == 3
    assert sum(p.amount for p in Payment.objects.all()) <= owed
