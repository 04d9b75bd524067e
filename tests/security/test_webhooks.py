"""Stripe webhooks: only Stripe's signature over these exact bytes, recently, gets an event
stored, and an event id is applied once however it is re-sent.

tests/payments/test_api.py covers a wrong secret, a stale or missing or garbage signature, and
the same delivery sent twice. Here: a genuine signature over a body that was altered, an event
id re-sent with different content, and duplicate deliveries racing on the real PostgreSQL. The
endpoint stores the event and a task applies it after the commit (eager in the test settings).
"""

import json

import pytest
from django.test import Client

from bookings.models import Booking
from core.models import OutboxMessage
from payments.models import Payment, ProviderEvent
from tests.conftest import assert_error
from tests.e2e.test_concurrency import at_once
from tests.payments.conftest import booking, intent_event, signed  # noqa: F401 (fixture)

WEBHOOK = "/api/v1/payments/webhooks/stripe/"


def deliver(client, payload: str, signature: str):
    return client.post(
        WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def queued_tasks() -> int:
    return OutboxMessage.objects.filter(task_name="payments.apply_provider_event").count()


@pytest.fixture
def intent(booking: Booking) -> Payment:  # noqa: F811
    """A pending Stripe deposit, as payment creation leaves it."""
    return Payment.objects.create(
        booking=booking,
        kind="deposit",
        amount=booking.deposit_due,
        provider="stripe",
        provider_reference="pi_0001",
    )


@pytest.mark.django_db
def test_a_signed_body_that_was_altered_is_refused(api_client, intent):
    # given a genuine delivery saying the payment failed
    event = intent_event("evt_1", "payment_intent.payment_failed", "pi_0001")
    payload, signature = signed(event)
    # when someone in between turns it into a success, keeping Stripe's signature
    forged = payload.replace("payment_intent.payment_failed", "payment_intent.succeeded")
    response = deliver(api_client, forged, signature)
    # then it is refused, and nothing is recorded or changed
    assert_error(response, 400, "invalid_signature")
    intent.refresh_from_db()
    assert intent.status == Payment.Status.PENDING
    assert not ProviderEvent.objects.exists()
    assert queued_tasks() == 0


@pytest.mark.django_db
def test_an_event_id_resent_with_other_content_changes_nothing(
    api_client, intent, django_capture_on_commit_callbacks
):
    # given a success that was received and applied
    payload, signature = signed(intent_event("evt_1", "payment_intent.succeeded", "pi_0001"))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(api_client, payload, signature).json()["duplicate"] is False
    # when a validly signed event with the same id says something else
    refund = {
        "id": "evt_1",
        "type": "charge.refunded",
        "data": {"object": {"id": "ch_1", "payment_intent": "pi_0001", "refunded": True}},
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(api_client, *signed(refund))
    # then it is acknowledged as a repeat and ignored: one event id, one effect, one task
    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    intent.refresh_from_db()
    assert intent.status == Payment.Status.SUCCEEDED
    [recorded] = ProviderEvent.objects.all()
    assert recorded.event_type == "payment_intent.succeeded"
    assert queued_tasks() == 1


@pytest.mark.django_db(transaction=True)
def test_duplicate_deliveries_racing_apply_once(intent, pg_cluster):
    # given Stripe retrying one event while the first delivery is still in flight
    payload, signature = signed(intent_event("evt_race", "payment_intent.succeeded", "pi_0001"))
    # when eight deliveries arrive at the same instant, each on its own connection
    responses = at_once(8, lambda i: deliver(Client(), payload, signature))
    # then every one is acknowledged (Stripe stops retrying), exactly one is new
    assert [r.status_code for r in responses] == [200] * 8
    duplicates = sorted(json.loads(r.content)["duplicate"] for r in responses)
    assert duplicates == [False] + [True] * 7
    # and the event is stored, queued and applied once
    [recorded] = ProviderEvent.objects.filter(event_id="evt_race")
    assert recorded.processed_at is not None
    assert queued_tasks() == 1
    intent.refresh_from_db()
    assert intent.status == Payment.Status.SUCCEEDED
