"""Payment providers: ``manual`` (staff record cash or transfers) and ``stripe``.

A provider turns a new ``Payment`` row into something the customer can pay. Which one is used
is settings.PAYMENT_PROVIDER ("stripe" when STRIPE_SECRET_KEY is set, else "manual").
"""

from dataclasses import dataclass
from typing import Protocol

import stripe
from django.conf import settings

from payments.errors import PaymentProviderError
from payments.models import Payment


@dataclass(frozen=True)
class ProviderIntent:
    reference: str  # the provider's id for the payment ("" for manual)
    client_secret: str | None  # handed to the customer's app to confirm the payment


class PaymentProvider(Protocol):
    name: str

    def create_intent(self, *, payment: Payment, idempotency_key: str) -> ProviderIntent:
        """Register ``payment`` with the provider. ``idempotency_key`` makes a retried call
        return the same intent instead of charging twice."""
        ...


class ManualProvider:
    """Cash or bank transfer: the payment stays ``pending`` until staff mark it in the admin."""

    name = Payment.Provider.MANUAL

    def create_intent(self, *, payment: Payment, idempotency_key: str) -> ProviderIntent:
        return ProviderIntent(reference="", client_secret=None)


class StripeProvider:
    """Stripe PaymentIntents; the webhook moves the payment to succeeded or failed."""

    name = Payment.Provider.STRIPE

    def __init__(self, api_key: str, http_client: stripe.HTTPClient | None = None):
        self.client = stripe.StripeClient(api_key, max_network_retries=2, http_client=http_client)

    def create_intent(self, *, payment: Payment, idempotency_key: str) -> ProviderIntent:
        try:
            intent = self.client.v1.payment_intents.create(
                params={
                    "amount": payment.amount,
                    "currency": payment.currency.lower(),
                    "automatic_payment_methods": {"enabled": True},
                    "metadata": {
                        "payment_id": str(payment.pk),
                        "booking_id": str(payment.booking_id),
                        "kind": payment.kind,
                    },
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError() from exc
        return ProviderIntent(reference=intent.id, client_secret=intent.client_secret)


def get_provider() -> PaymentProvider:
    if settings.PAYMENT_PROVIDER == Payment.Provider.STRIPE:
        return StripeProvider(settings.STRIPE_SECRET_KEY)
    return ManualProvider()
