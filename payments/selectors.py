"""Reads of the payments app."""

from django.db.models import Q, QuerySet, Sum, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce

from accounts.models import User
from bookings.models import Booking
from core.http.errors import NotFound
from payments.models import Payment

_COLLECTED = Q(
    payments__status=Payment.Status.SUCCEEDED,
    payments__kind__in=[Payment.Kind.DEPOSIT, Payment.Kind.BALANCE],
)
_REFUNDED = Q(payments__status=Payment.Status.SUCCEEDED, payments__kind=Payment.Kind.REFUND)


def amount_paid_expression() -> Combinable:
    """A booking annotation: cents collected by succeeded deposits and balances, less
    succeeded refunds. Payments refunded by the provider (status ``refunded``) count nothing."""
    return Coalesce(Sum("payments__amount", filter=_COLLECTED), Value(0)) - Coalesce(
        Sum("payments__amount", filter=_REFUNDED), Value(0)
    )


def booking_amount_paid(*, booking_id: int) -> int:
    """``amount_paid`` of one booking (see ``amount_paid_expression``)."""
    paid = (
        Booking.objects.filter(pk=booking_id)
        .annotate(paid=amount_paid_expression())
        .values_list("paid", flat=True)
        .first()
    )
    return paid or 0


def payment_list_for_customer(*, customer: User) -> QuerySet[Payment]:
    return Payment.objects.filter(booking__customer=customer).order_by("-created_at", "-id")


def payment_get_for_customer(*, customer: User, payment_id: int) -> Payment:
    """The customer's own payment; anyone else's is ``NotFound``."""
    payment = payment_list_for_customer(customer=customer).filter(pk=payment_id).first()
    if payment is None:
        raise NotFound("Payment not found.")
    return payment
