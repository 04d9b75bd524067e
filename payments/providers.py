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

    def __init__(
        self,
        api_key: str,
        http_client: stripe.HTTPClient | None = None,
        *,
        timeout_seconds: float | None = None,
        max_network_retries: int | None = None,
        api_base: str | None = None,
    ):
        # Every attempt is bounded (the SDK's default waits 80 s for a read), and so is the
        # number of attempts: a slow Stripe holds one request for a known worst case
        # (settings.PAYMENT_PROVIDER_WORST_CASE_SECONDS), never a database connection.
        timeout = settings.STRIPE_TIMEOUT_SECONDS if timeout_seconds is None else timeout_seconds
        retries = (
            settings.STRIPE_MAX_NETWORK_RETRIES
            if max_network_retries is None
            else max_network_retries
        )
        self.client = stripe.StripeClient(
            api_key,
            max_network_retries=retries,
            http_client=http_client or stripe.RequestsClient(timeout=timeout),
            base_addresses={"api": api_base} if api_base else None,
        )

    def create_intent(self, *, payment: Payment, idempotency_key: str) -> ProviderIntent:
        # The parameters depend only on the customer's request, not on our row's id: a retry
        # with the same Idempotency-Key after a timeout (whose reservation was released) sends
        # the same request with the same Stripe key and gets the intent Stripe may have made.
        try:
            intent = self.client.v1.payment_intents.create(
                params={
                    "amount": payment.amount,
                    "currency": payment.currency.lower(),
                    "automatic_payment_methods": {"enabled": True},
                    "metadata": {
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
        return StripeProvider(settings.STRIPE_SECRET_KEY, api_base=settings.STRIPE_API_BASE)
    return ManualProvider()
