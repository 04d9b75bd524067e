"""Stripe's servers are the one thing not on this machine: a fake HTTP client stands in for
them, below the real SDK, so request building and response parsing are the SDK's own."""

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe

from bookings.models import Booking
from payments import providers
from tests.bookings.conftest import catalogue, make_booking  # noqa: F401 (fixture)

WEBHOOK_SECRET = "whsec_test_secret"  # config/settings/test.py


class FakeStripeServer(stripe.HTTPClient):
    """Answers POST /v1/payment_intents like Stripe, honouring Idempotency-Key."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.by_key: dict[str, str] = {}
        self.fail = False

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        params = {k: v[0] for k, v in parse_qs(post_data or "").items()}
        key = (headers or {}).get("Idempotency-Key", "")
        self.requests.append({"method": method, "url": url, "params": params, "key": key})
        if self.fail:
            return json.dumps({"error": {"type": "api_error", "message": "down"}}), 500, {}
        if key not in self.by_key:
            self.by_key[key] = f"pi_{len(self.by_key) + 1:04d}"
        intent_id = self.by_key[key]
        body = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_abc",
        }
        return json.dumps(body), 200, {}

    def close(self) -> None:
        pass


@pytest.fixture
def stripe_server(settings, monkeypatch) -> FakeStripeServer:
    server = FakeStripeServer()
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_123"
    monkeypatch.setattr(
        providers,
        "get_provider",
        lambda: providers.StripeProvider("sk_test_123", http_client=server),
    )
    return server


@pytest.fixture
def booking(catalogue, customer) -> Booking:  # noqa: F811
    return make_booking(catalogue, customer)


def signed(event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: int | None = None):
    """The body and Stripe-Signature header Stripe would send for ``event``."""
    payload = json.dumps(event)
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return payload, f"t={timestamp},v1={mac.hexdigest()}"


def intent_event(event_id: str, event_type: str, intent_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "data": {"object": {"id": intent_id, "object": "payment_intent"}},
    }
