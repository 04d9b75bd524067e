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
    """The customer's payments; one still being registered with the provider is not one yet."""
    return (
        Payment.objects.filter(booking__customer=customer)
        .exclude(status=Payment.Status.CREATING)
        .order_by("-created_at", "-id")
    )


def payment_get_for_customer(*, customer: User, payment_id: int) -> Payment:
    """The customer's own payment; anyone else's is ``NotFound``."""
    payment = payment_list_for_customer(customer=customer).filter(pk=payment_id).first()
    if payment is None:
        raise NotFound("Payment not found.")
    return payment


def booking_has_open_deposit(*, booking_id: int) -> bool:
    """A deposit that succeeded, still awaits its outcome or is being registered."""
    return Payment.objects.filter(
        booking_id=booking_id,
        kind=Payment.Kind.DEPOSIT,
        status__in=[Payment.Status.CREATING, Payment.Status.PENDING, Payment.Status.SUCCEEDED],
    ).exists()


def booking_amount_committed(*, booking_id: int) -> int:
    """Cents paid plus cents in pending payments and in payments being registered with the
    provider: what the customer can no longer be asked for."""
    pending = Payment.objects.filter(
        booking_id=booking_id,
        status__in=[Payment.Status.CREATING, Payment.Status.PENDING],
        kind__in=[Payment.Kind.DEPOSIT, Payment.Kind.BALANCE],
    ).aggregate(total=Coalesce(Sum("amount"), Value(0)))["total"]
    return booking_amount_paid(booking_id=booking_id) + pending


def payment_by_provider_reference(*, provider: str, reference: str) -> Payment | None:
    if not reference:
        return None
    return Payment.objects.filter(provider=provider, provider_reference=reference).first()
