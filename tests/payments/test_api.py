import time

import pytest

from bookings.models import Booking
from core.models import FailedTask, OutboxMessage
from payments.models import Payment, ProviderEvent
from tests.conftest import assert_error
from tests.payments.conftest import intent_event, signed

pytestmark = pytest.mark.django_db

PAYMENTS = "/api/v1/payments/"
WEBHOOK = "/api/v1/payments/webhooks/stripe/"


def pay(client, booking, *, key="key-1", kind="deposit", amount=None):
    body = {"booking": booking.pk, "kind": kind, "amount": amount or booking.deposit_due}
    return client.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


class TestCreateManual:
    def test_deposit_is_pending_until_staff_mark_it(self, customer_client, booking):
        response = pay(customer_client, booking)
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["booking"] == booking.pk
        assert body["kind"] == "deposit"
        assert body["amount"] == booking.deposit_due == 13200
        assert body["currency"] == "USD"
        assert body["status"] == "pending"
        assert body["provider"] == "manual"
        assert "Idempotent-Replayed" not in response.headers
        assert Payment.objects.get().status == Payment.Status.PENDING

    def test_same_key_same_body_replays(self, customer_client, booking):
        first = pay(customer_client, booking)
        second = pay(customer_client, booking)
        assert second.status_code == 201
        assert second.json() == first.json()
        assert second.headers["Idempotent-Replayed"] == "true"
        assert Payment.objects.count() == 1

    def test_same_key_other_body_is_422(self, customer_client, booking):
        pay(customer_client, booking)
        response = pay(customer_client, booking, kind="balance", amount=100)
        assert_error(response, 422, "idempotency_conflict")
        assert Payment.objects.count() == 1

    def test_missing_key_is_400(self, customer_client, booking):
        body = {"booking": booking.pk, "kind": "deposit", "amount": booking.deposit_due}
        response = customer_client.post(PAYMENTS, body, format="json")
        assert_error(response, 400, "idempotency_key_required")
        assert Payment.objects.count() == 0

    def test_overlong_key_is_400(self, customer_client, booking):
        assert_error(pay(customer_client, booking, key="k" * 256), 400, "idempotency_key_invalid")

    def test_keys_are_per_customer(self, customer_client, other_client, booking):
        pay(customer_client, booking)
        # the same key from another customer is a new request: and their booking is not theirs
        assert_error(pay(other_client, booking), 404, "not_found")

    def test_error_is_not_stored_so_a_fixed_retry_works(self, customer_client, booking):
        assert_error(pay(customer_client, booking, amount=1), 400, "validation_error")
        assert pay(customer_client, booking, amount=booking.deposit_due).status_code == 201

    def test_wrong_deposit_amount_is_400(self, customer_client, booking):
        body = assert_error(pay(customer_client, booking, amount=500), 400, "validation_error")
        assert "amount" in body["errors"]

    def test_second_deposit_is_409(self, customer_client, booking):
        pay(customer_client, booking, key="a")
        assert_error(pay(customer_client, booking, key="b"), 409, "deposit_already_paid")

    def test_balance_cannot_exceed_what_is_owed(self, customer_client, booking):
        pay(customer_client, booking, key="a")
        owed = booking.total - booking.deposit_due
        assert_error(
            pay(customer_client, booking, key="b", kind="balance", amount=owed + 1),
            400,
            "validation_error",
        )
        assert (
            pay(customer_client, booking, key="c", kind="balance", amount=owed).status_code == 201
        )
        assert_error(
            pay(customer_client, booking, key="d", kind="balance", amount=1),
            409,
            "booking_not_payable",
        )

    def test_cancelled_booking_is_409(self, customer_client, booking):
        Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CANCELLED)
        assert_error(pay(customer_client, booking), 409, "booking_not_payable")

    @pytest.mark.parametrize(
        "body",
        [
            {"booking": "one", "kind": "deposit", "amount": 100},
            {"booking": 1, "kind": "refund", "amount": 100},
            {"booking": 1, "kind": "deposit", "amount": -5},
            {"booking": 1, "kind": "deposit", "amount": 10**40},
            {"booking": 1, "kind": "deposit", "amount": 1.5},
            {"booking": 1, "kind": "deposit"},
            {"booking": 1, "kind": "deposit", "amount": 100, "status": "succeeded"},
            ["not", "an", "object"],
        ],
    )
    def test_bad_bodies_are_400(self, customer_client, booking, body):
        response = customer_client.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="x")
        assert_error(response, 400, "validation_error")
        assert Payment.objects.count() == 0

    @pytest.mark.parametrize(
        ("field", "value"),
        [("booking", "pk"), ("amount", "deposit"), ("amount", "deposit.0"), ("amount", True)],
    )
    def test_integers_of_the_wrong_json_type_are_400(self, customer_client, booking, field, value):
        # given a body that is right but for the type of one integer
        body = {"booking": booking.pk, "kind": "deposit", "amount": booking.deposit_due}
        body[field] = {
            "pk": str(booking.pk),
            "deposit": str(booking.deposit_due),
            "deposit.0": float(booking.deposit_due),
        }.get(value, value)
        # when
        response = customer_client.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
        # then
        out = assert_error(response, 400, "validation_error")
        assert list(out["errors"]) == [field]
        assert Payment.objects.count() == 0

    def test_anonymous_is_401(self, api_client, booking):
        assert_error(pay(api_client, booking), 401, "not_authenticated")


class TestCreateStripe:
    def test_creates_an_intent_with_the_idempotency_key(
        self, customer_client, booking, stripe_server
    ):
        response = pay(customer_client, booking, key="abc")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["provider"] == "stripe"
        assert body["client_secret"] == "pi_0001_secret_abc"
        [request] = stripe_server.requests
        assert request["params"]["amount"] == str(booking.deposit_due)
        assert request["params"]["currency"] == "usd"
        assert request["key"].endswith("-abc")
        assert Payment.objects.get().provider_reference == "pi_0001"

    def test_replay_does_not_call_stripe_again(self, customer_client, booking, stripe_server):
        pay(customer_client, booking, key="abc")
        replay = pay(customer_client, booking, key="abc")
        assert replay.json()["client_secret"] == "pi_0001_secret_abc"
        assert len(stripe_server.requests) == 1

    def test_stripe_down_is_502_and_nothing_is_stored(
        self, customer_client, booking, stripe_server
    ):
        stripe_server.fail = True
        assert_error(pay(customer_client, booking), 502, "payment_provider_error")
        assert Payment.objects.count() == 0


class TestListAndDetail:
    def test_lists_own_payments_only(self, customer_client, other_client, booking):
        created = pay(customer_client, booking).json()
        assert [p["id"] for p in customer_client.get(PAYMENTS).json()["results"]] == [created["id"]]
        assert other_client.get(PAYMENTS).json()["results"] == []

    def test_detail_hides_the_client_secret(self, customer_client, booking):
        created = pay(customer_client, booking).json()
        body = customer_client.get(f"{PAYMENTS}{created['id']}/").json()
        assert body["id"] == created["id"]
        assert "client_secret" not in body

    def test_other_customers_payment_is_404(self, customer_client, other_client, booking):
        created = pay(customer_client, booking).json()
        assert_error(other_client.get(f"{PAYMENTS}{created['id']}/"), 404, "not_found")

    def test_list_query_count_is_constant(
        self, customer_client, booking, django_assert_max_num_queries
    ):
        pay(customer_client, booking, key="a")
        with django_assert_max_num_queries(3) as small:
            customer_client.get(PAYMENTS)
        for _ in range(12):
            Payment.objects.create(
                booking=booking, kind="balance", amount=1, provider="manual", status="failed"
            )
        with django_assert_max_num_queries(3) as large:
            customer_client.get(PAYMENTS)
        assert len(small.captured_queries) == len(large.captured_queries)


class TestStripeWebhook:
    """The endpoint stores the event and answers at once; the task applies it after the commit
    (run here by executing the on-commit callbacks: tasks are eager in the test settings)."""

    def deliver(self, client, event, run_tasks):
        payload, signature = signed(event)
        with run_tasks(execute=True):
            return client.post(
                WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
            )

    def test_success_event_marks_the_payment_and_amount_paid(
        self,
        api_client,
        customer_client,
        booking,
        stripe_server,
        django_capture_on_commit_callbacks,
    ):
        pay(customer_client, booking)
        event = intent_event("evt_1", "payment_intent.succeeded", "pi_0001")
        response = self.deliver(api_client, event, django_capture_on_commit_callbacks)
        assert response.status_code == 200
        assert response.json() == {"received": True, "duplicate": False}
        assert Payment.objects.get().status == Payment.Status.SUCCEEDED
        assert ProviderEvent.objects.get().processed_at is not None
        detail = customer_client.get(f"/api/v1/bookings/{booking.pk}/").json()
        assert detail["amount_paid"] == booking.deposit_due

    def test_the_answer_does_not_wait_for_processing(
        self, api_client, customer_client, booking, stripe_server
    ):
        # given a delivery whose transaction has not run its on-commit work (the task)
        pay(customer_client, booking)
        payload, signature = signed(intent_event("evt_1", "payment_intent.succeeded", "pi_0001"))
        response = api_client.post(
            WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )
        # then it is acknowledged and stored, with its task in the outbox, and not yet applied
        assert response.status_code == 200
        event = ProviderEvent.objects.get()
        assert event.processed_at is None
        assert Payment.objects.get().status == Payment.Status.PENDING
        [queued] = OutboxMessage.objects.filter(task_name="payments.apply_provider_event")
        assert queued.published_at is None
        assert queued.kwargs == {"provider_event_id": event.pk}

    def test_a_repeated_event_changes_nothing(
        self,
        api_client,
        customer_client,
        booking,
        stripe_server,
        django_capture_on_commit_callbacks,
    ):
        pay(customer_client, booking)
        event = intent_event("evt_1", "payment_intent.succeeded", "pi_0001")
        self.deliver(api_client, event, django_capture_on_commit_callbacks)
        # staff refund it meanwhile; a re-delivered success must not resurrect it
        Payment.objects.update(status=Payment.Status.REFUNDED)
        again = self.deliver(api_client, event, django_capture_on_commit_callbacks)
        assert again.status_code == 200
        assert again.json() == {"received": True, "duplicate": True}
        assert Payment.objects.get().status == Payment.Status.REFUNDED
        assert ProviderEvent.objects.count() == 1
        # the repeat enqueued nothing
        assert OutboxMessage.objects.filter(task_name="payments.apply_provider_event").count() == 1

    @pytest.mark.parametrize("case", ["bad_secret", "stale", "missing", "garbage"])
    def test_bad_signatures_are_400_and_change_nothing(
        self, api_client, customer_client, booking, stripe_server, case
    ):
        pay(customer_client, booking)
        event = intent_event("evt_1", "payment_intent.succeeded", "pi_0001")
        payload, signature = {
            "bad_secret": lambda: signed(event, secret="whsec_other"),
            "stale": lambda: signed(event, at=int(time.time()) - 3600),
            "missing": lambda: (signed(event)[0], None),
            "garbage": lambda: (signed(event)[0], "t=1,v1=deadbeef"),
        }[case]()
        headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature else {}
        response = api_client.post(WEBHOOK, payload, content_type="application/json", **headers)
        assert_error(response, 400, "invalid_signature")
        assert Payment.objects.get().status == Payment.Status.PENDING
        assert ProviderEvent.objects.count() == 0

    def test_failed_and_refunded_events(
        self,
        api_client,
        customer_client,
        booking,
        stripe_server,
        django_capture_on_commit_callbacks,
    ):
        pay(customer_client, booking)
        for event in (
            intent_event("evt_1", "payment_intent.succeeded", "pi_0001"),
            {
                "id": "evt_2",
                "type": "charge.refunded",
                "data": {"object": {"id": "ch_1", "payment_intent": "pi_0001", "refunded": True}},
            },
        ):
            self.deliver(api_client, event, django_capture_on_commit_callbacks)
        assert Payment.objects.get().status == Payment.Status.REFUNDED

    @pytest.mark.parametrize(
        "event",
        [
            {"id": "evt_x", "type": "payment_intent.succeeded", "data": "nope"},
            {"id": "evt_y", "type": "customer.created", "data": {"object": {"id": "cus_1"}}},
            {"id": "evt_z", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_9"}}},
        ],
    )
    def test_odd_events_are_acknowledged_without_effect(
        self, api_client, event, django_capture_on_commit_callbacks
    ):
        response = self.deliver(api_client, event, django_capture_on_commit_callbacks)
        assert response.status_code == 200
        # processed (nothing to do), not failed: no dead letter, nothing left to retry
        assert ProviderEvent.objects.get(event_id=event["id"]).processed_at is not None
        assert not FailedTask.objects.exists()

    def test_signed_non_json_is_400(self, api_client):
        payload = "not json"
        _, signature = signed({})  # a signature over other bytes
        response = api_client.post(
            WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )
        assert_error(response, 400, "invalid_signature")
