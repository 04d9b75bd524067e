"""The provider is called outside any transaction, with a bounded timeout and retry: a slow or
silent Stripe costs one request a known time, never the booking's lock, and leaves no payment
half-written nor any amount reserved. Stripe is a real socket on 127.0.0.1 (tests/payments/
stripe_stub.py) under the real SDK and its HTTP client."""

import datetime
import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from core.models import IdempotencyKey
from payments import selectors
from payments.models import Payment
from tests.bookings.conftest import make_booking
from tests.conftest import assert_error, client_for, make_customer
from tests.payments.stripe_stub import running_stub

PAYMENTS = "/api/v1/payments/"
JOIN_SECONDS = 30  # generous: only catches a hang


def pay(client, booking, *, key, kind="deposit", amount=None):
    body = {"booking": booking.pk, "kind": kind, "amount": amount or booking.deposit_due}
    return client.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def use_stub(settings, stub, *, timeout: float) -> None:
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_stub"
    settings.STRIPE_API_BASE = stub.url
    settings.STRIPE_TIMEOUT_SECONDS = timeout
    settings.STRIPE_MAX_NETWORK_RETRIES = 1


@pytest.mark.django_db
def test_a_silent_provider_is_a_502_after_one_retry_and_frees_the_deposit(
    settings, catalogue, customer, customer_client
):
    booking = make_booking(catalogue, customer)
    with running_stub() as stub:
        # given a Stripe that accepts connections and never answers
        use_stub(settings, stub, timeout=0.5)
        # when a deposit is paid
        started = time.monotonic()
        response = pay(customer_client, booking, key="hang-1")
        elapsed = time.monotonic() - started
        # then the caller is told the provider failed, after two attempts with one Stripe key
        assert_error(response, 502, "payment_provider_error")
        assert stub.requests == [f"payment-{customer.pk}-hang-1"] * 2
        assert elapsed < 2 * 0.5 + 5 + 5  # two timeouts, the SDK's longest backoff, slack
        # nothing is stored: no payment, no key, the deposit is owed again
        assert Payment.objects.count() == 0
        assert IdempotencyKey.objects.count() == 0
        assert selectors.booking_amount_committed(booking_id=booking.pk) == 0
        stub.release.set()
        retried = pay(customer_client, booking, key="ok-1")
        assert retried.status_code == 201, retried.json()
        assert retried.json()["status"] == "pending"
    assert Payment.objects.get().provider_reference == "pi_stub_0003"


@pytest.mark.django_db
def test_a_reservation_counts_as_owed_until_it_is_stale(catalogue, customer, customer_client):
    booking = make_booking(catalogue, customer)
    # given a deposit reserved by a request that is still calling the provider
    reserved = Payment.objects.create(
        booking=booking,
        kind="deposit",
        amount=booking.deposit_due,
        provider="manual",
        status=Payment.Status.CREATING,
    )
    # then it blocks a second deposit, and the customer does not see it as a payment
    assert_error(pay(customer_client, booking, key="a"), 409, "deposit_already_paid")
    assert customer_client.get(PAYMENTS).json()["results"] == []
    # given it outlived any request (its process died mid-call)
    old = timezone.now() - datetime.timedelta(hours=1)
    Payment.objects.filter(pk=reserved.pk).update(created_at=old)
    # then it no longer counts: the deposit can be paid, and the stale reservation is gone
    assert pay(customer_client, booking, key="b").status_code == 201
    assert list(Payment.objects.values_list("status", flat=True)) == ["pending"]


@pytest.mark.django_db
def test_a_retry_under_the_same_key_clears_the_reservation_its_earlier_attempt_left(
    catalogue, customer, customer_client
):
    booking = make_booking(catalogue, customer)
    # given a fresh deposit reservation left by an attempt under key "k" that lost the database
    # mid-call (its delete could not run; its key's claim was given up: core.http.idempotency)
    Payment.objects.create(
        booking=booking,
        kind="deposit",
        amount=booking.deposit_due,
        provider="manual",
        status=Payment.Status.CREATING,
        idempotency_key="k",
    )
    # then under another key it still blocks a deposit (it may be a request still running)
    assert_error(pay(customer_client, booking, key="other"), 409, "deposit_already_paid")
    # when the client retries under "k", the deposit goes through in place of it
    assert pay(customer_client, booking, key="k").status_code == 201
    assert list(Payment.objects.values_list("status", "idempotency_key")) == [("pending", "k")]


@pytest.mark.django_db
def test_a_retry_under_the_same_key_answers_with_the_payment_its_earlier_attempt_recorded(
    catalogue, customer, customer_client
):
    booking = make_booking(catalogue, customer)
    rest = booking.total - booking.deposit_due
    # given a balance payment recorded under key "k" whose response was never stored (the
    # database failed after it; its key's claim was given up: core.http.idempotency)
    recorded = Payment.objects.create(
        booking=booking,
        kind="balance",
        amount=rest,
        provider="manual",
        status=Payment.Status.PENDING,
        idempotency_key="k",
    )
    # when the client retries under "k", it gets that payment, and nothing is charged twice
    response = pay(customer_client, booking, key="k", kind="balance", amount=rest)
    assert response.status_code == 201, response.json()
    assert response.json()["id"] == recorded.pk
    assert Payment.objects.count() == 1
    # while another key is a new payment, refused here: that amount is no longer owed
    again = pay(customer_client, booking, key="k2", kind="balance", amount=rest)
    assert_error(again, 400, "validation_error")


@pytest.mark.django_db(transaction=True)
def test_a_payment_proceeds_while_another_for_the_booking_waits_on_the_provider(
    pg_cluster, settings, catalogue
):
    assert connection.vendor == "postgresql"
    customer = make_customer("payer@example.com")
    booking = make_booking(catalogue, customer)
    rest = booking.total - booking.deposit_due
    answers: dict[str, object] = {}

    def in_thread(name, call):
        def run():
            try:
                answers[name] = call()
            finally:
                connections.close_all()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    with running_stub() as stub:
        # given a deposit whose Stripe call is held until the test releases it
        use_stub(settings, stub, timeout=JOIN_SECONDS)
        deposit = in_thread("deposit", lambda: pay(client_for(customer), booking, key="hang-a"))
        assert stub.held.wait(JOIN_SECONDS)
        # when balance payments for the same booking arrive meanwhile
        balance = in_thread(
            "balance",
            lambda: (
                pay(client_for(customer), booking, key="b1", kind="balance", amount=rest + 1),
                pay(client_for(customer), booking, key="b2", kind="balance", amount=rest),
            ),
        )
        balance.join(JOIN_SECONDS)
        # then they are answered while the deposit's call is still held (the booking is not
        # locked during it), and its reserved amount counts as owed
        assert not balance.is_alive(), "the balance payment waited for the deposit's call"
        assert "deposit" not in answers
        too_much, exact = answers["balance"]
        assert_error(too_much, 400, "validation_error")
        assert exact.status_code == 201, exact.json()
        # when the deposit's call fails (the connection drops, and again on the retry)
        stub.release.set()
        deposit.join(JOIN_SECONDS)
        assert_error(answers["deposit"], 502, "payment_provider_error")
        # then its reservation is gone, and the deposit can be paid with a new key
        assert pay(client_for(customer), booking, key="d2").status_code == 201
    assert sorted(Payment.objects.values_list("kind", "status")) == [
        ("balance", "pending"),
        ("deposit", "pending"),
    ]
    assert stub.requests.count(f"payment-{customer.pk}-hang-a") == 2
