"""Every row lock of the payments app. A booking's lock (bookings.lock_objects) is taken
before any of its payments' locks."""

from core.http.errors import NotFound
from payments.models import Payment


def payment_lock(*, payment_id: int) -> Payment:
    """Lock one payment for a status change: staff and the provider's webhook may race."""
    payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None:
        raise NotFound("Payment not found.")
    return payment
