"""Every row lock of the payments app. A booking's lock (bookings.lock_objects) is taken
before any of its payments' locks; a provider event's lock before the payment it settles."""

from core.http.errors import NotFound
from payments.models import Payment, ProviderEvent


def payment_lock(*, payment_id: int) -> Payment:
    """Lock one payment for a status change: staff and the provider's webhook may race."""
    payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None:
        raise NotFound("Payment not found.")
    return payment


def provider_event_lock(*, provider_event_id: int) -> ProviderEvent:
    """Lock a stored webhook event while its effect is applied: two runs of its task (a retry,
    a re-delivery) take turns, and the second finds it processed. Raises ``DoesNotExist``."""
    return ProviderEvent.objects.select_for_update().get(pk=provider_event_id)
