"""Writes of the payments app: taking payments, staff settling them, applying provider events."""

import datetime
import json
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from bookings import lock_objects as booking_locks
from bookings.models import Booking
from core.background.outbox import enqueue_by_name
from core.http.errors import InvalidInput, NotFound
from core.observability import metrics
from payments import lock_objects, providers, selectors
from payments.errors import (
    BookingNotPayable,
    DepositAlreadyPaid,
    InvalidStatusTransition,
    InvalidWebhook,
    PaymentProviderError,
)
from payments.models import Payment, ProviderEvent

logger = logging.getLogger(__name__)

# The worker task that applies a stored provider event (``payments.tasks``), enqueued by name:
# tasks call services, never the other way round.
APPLY_PROVIDER_EVENT_TASK = "payments.apply_provider_event"


@dataclass(frozen=True)
class CreatedPayment:
    payment: Payment
    client_secret: str | None


def payment_create(
    *,
    customer: User,
    booking_id: int,
    kind: str,
    amount: int,
    idempotency_key: str,
    now: datetime.datetime | None = None,
) -> CreatedPayment:
    """Start a deposit or balance payment for the customer's own booking.

    Three steps, so that no transaction (nor the booking's row lock, nor a database connection
    held in one) waits on the provider: reserve the amount in a short transaction, call the
    provider outside any, record its answer in a second short transaction. If the call fails or
    times out, the reservation is deleted, its amount is owed again and ``PaymentProviderError``
    (502) is raised; no payment is left half-written.

    Call outside ``transaction.atomic()``, inside the claimed idempotency guard
    (``core.http.idempotency.run_idempotent_claimed``), which runs this once per key, or again
    when the run before could not store its response: then the payment that run recorded is
    the answer, with the provider's intent asked for again under the same provider key (Stripe
    returns the one it made).
    """
    provider = providers.get_provider()
    provider_key = f"payment-{customer.pk}-{idempotency_key}"
    payment = _payment_reserve(
        customer=customer,
        booking_id=booking_id,
        kind=kind,
        amount=amount,
        provider=provider.name,
        idempotency_key=idempotency_key,
        now=now or timezone.now(),
    )
    if payment.status != Payment.Status.CREATING:
        intent = provider.create_intent(payment=payment, idempotency_key=provider_key)
        return CreatedPayment(payment=payment, client_secret=intent.client_secret)
    try:
        intent = provider.create_intent(payment=payment, idempotency_key=provider_key)
    except BaseException:
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATING).delete()
        raise
    with transaction.atomic():
        payment = lock_objects.payment_lock(payment_id=payment.pk)
        if payment.status != Payment.Status.CREATING:
            # Deleted as stale meanwhile: only a call slower than the stale bound gets here.
            raise PaymentProviderError()
        payment.status = Payment.Status.PENDING
        payment.provider_reference = intent.reference
        payment.save(update_fields=["status", "provider_reference", "updated_at"])
        metrics.inc_on_commit(metrics.payments, provider=payment.provider, status=payment.status)
    return CreatedPayment(payment=payment, client_secret=intent.client_secret)


def _payment_reserve(
    *,
    customer: User,
    booking_id: int,
    kind: str,
    amount: int,
    provider: str,
    idempotency_key: str,
    now: datetime.datetime,
) -> Payment:
    """Insert the payment as ``creating`` once the amount is checked against what is owed, or
    return the one an earlier run under ``idempotency_key`` recorded (not ``creating``).

    The deposit must be exactly the booking's ``deposit_due``; a balance payment at most what
    is still owed after succeeded, pending and reserved payments. The booking row is locked
    while this is checked, so two concurrent payments cannot both take the last of the balance.
    """
    with transaction.atomic():
        try:
            booking = booking_locks.booking_lock(booking_id=booking_id)
        except Booking.DoesNotExist:
            raise NotFound("Booking not found.") from None
        if booking.customer_id != customer.pk:
            raise NotFound("Booking not found.")
        if booking.status not in Booking.HOLDING_STATUSES:
            raise BookingNotPayable()
        # A reservation this old belongs to a request that died during its provider call; one
        # made under this request's key, to an earlier attempt that lost the database before it
        # could delete it (this request holds the key's claim: that attempt is over).
        stale_before = now - datetime.timedelta(seconds=settings.PAYMENT_RESERVATION_STALE_SECONDS)
        left_behind = Q(created_at__lt=stale_before)
        if idempotency_key:
            left_behind |= Q(idempotency_key=idempotency_key)
            # An earlier run under this key recorded its payment but could not store its
            # response (the database failed after): that payment is this request's answer.
            key_used_since = now - datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
            recorded = (
                Payment.objects.filter(
                    booking=booking, idempotency_key=idempotency_key, created_at__gte=key_used_since
                )
                .exclude(status=Payment.Status.CREATING)
                .first()
            )
            if recorded is not None:
                return recorded
        Payment.objects.filter(
            left_behind, booking=booking, status=Payment.Status.CREATING
        ).delete()

        if kind == Payment.Kind.DEPOSIT:
            if selectors.booking_has_open_deposit(booking_id=booking.pk):
                raise DepositAlreadyPaid()
            if amount != booking.deposit_due:
                raise InvalidInput(
                    "amount", f"The deposit for this booking is {booking.deposit_due} cents."
                )
        else:
            owed = booking.total - selectors.booking_amount_committed(booking_id=booking.pk)
            if owed <= 0:
                raise BookingNotPayable("This booking is already paid in full.")
            if amount > owed:
                raise InvalidInput("amount", f"At most {owed} cents are owed on this booking.")

        return Payment.objects.create(
            booking=booking,
            kind=kind,
            amount=amount,
            currency=booking.currency,
            provider=provider,
            status=Payment.Status.CREATING,
            idempotency_key=idempotency_key,
        )


def payment_mark_succeeded(
    *, payment_id: int, reference: str = "", now: datetime.datetime | None = None
) -> Payment:
    """Staff confirm a manual payment arrived, or the provider confirmed it."""
    return _settle(payment_id=payment_id, to=Payment.Status.SUCCEEDED, reference=reference, now=now)


def payment_mark_failed(*, payment_id: int, now: datetime.datetime | None = None) -> Payment:
    return _settle(payment_id=payment_id, to=Payment.Status.FAILED, reference="", now=now)


def payment_mark_refunded(*, payment_id: int, now: datetime.datetime | None = None) -> Payment:
    """The provider refunded a succeeded payment in full; it no longer counts as paid."""
    with transaction.atomic():
        payment = lock_objects.payment_lock(payment_id=payment_id)
        if payment.status != Payment.Status.SUCCEEDED:
            raise InvalidStatusTransition(f"A {payment.status} payment cannot be refunded.")
        payment.status = Payment.Status.REFUNDED
        payment.settled_at = now or timezone.now()
        payment.save(update_fields=["status", "settled_at", "updated_at"])
        metrics.inc_on_commit(metrics.payments, provider=payment.provider, status=payment.status)
    return payment


def _settle(*, payment_id: int, to: str, reference: str, now: datetime.datetime | None) -> Payment:
    with transaction.atomic():
        payment = lock_objects.payment_lock(payment_id=payment_id)
        if payment.status != Payment.Status.PENDING:
            raise InvalidStatusTransition(f"A {payment.status} payment cannot become {to}.")
        payment.status = to
        payment.settled_at = now or timezone.now()
        fields = ["status", "settled_at", "updated_at"]
        if reference:
            payment.provider_reference = reference
            fields.append("provider_reference")
        payment.save(update_fields=fields)
        metrics.inc_on_commit(metrics.payments, provider=payment.provider, status=payment.status)
    return payment


# ------------------------------------------------------------------------------ Stripe webhooks


def stripe_webhook_verify(*, payload: bytes, signature: str | None) -> dict[str, Any]:
    """Return the event if ``Stripe-Signature`` is valid and recent, else ``InvalidWebhook``.

    The SDK checks the HMAC with STRIPE_WEBHOOK_SECRET and refuses timestamps older than the
    tolerance, so a captured delivery cannot be replayed later.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret or not signature:
        raise InvalidWebhook()
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError):
        raise InvalidWebhook() from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidWebhook("The event has no id.")
    return event


def stripe_event_receive(*, event: dict[str, Any]) -> bool:
    """Store a verified Stripe event and enqueue its processing; False for a repeated event id.

    The event row and its outbox row commit together, so an event acknowledged to Stripe is
    processed even if the broker is down right now (the outbox relay publishes it later).
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = ProviderEvent.objects.create(
                    provider=Payment.Provider.STRIPE,
                    event_id=event["id"],
                    event_type=str(event.get("type", ""))[:100],
                    payload=event,
                )
        except IntegrityError:
            return False
        enqueue_by_name(APPLY_PROVIDER_EVENT_TASK, provider_event_id=record.pk)
    return True


def provider_event_process(*, provider_event_id: int, now: datetime.datetime | None = None) -> bool:
    """Apply a stored event's effect at most once; False when it was processed before.

    The event's row is locked and ``processed_at`` set in the transaction of the effect: a
    crash in between leaves neither, so the task's next run applies it then, and a concurrent
    run waits for the lock and finds it processed.
    """
    with transaction.atomic():
        record = lock_objects.provider_event_lock(provider_event_id=provider_event_id)
        if record.processed_at is not None:
            return False
        _stripe_event_effect(record.payload)
        record.processed_at = now or timezone.now()
        record.save(update_fields=["processed_at"])
    return True


def _stripe_event_effect(event: dict[str, Any]) -> None:
    event_type = event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return
    if event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        payment = selectors.payment_by_provider_reference(
            provider=Payment.Provider.STRIPE, reference=str(obj.get("id", ""))
        )
    elif event_type == "charge.refunded":
        payment = selectors.payment_by_provider_reference(
            provider=Payment.Provider.STRIPE, reference=str(obj.get("payment_intent", ""))
        )
    else:
        return  # an event we do not act on is recorded and acknowledged
    if payment is None:
        logger.warning("stripe event %s for an unknown payment", event["id"])
        return
    try:
        if event_type == "payment_intent.succeeded":
            payment_mark_succeeded(payment_id=payment.pk)
        elif event_type == "payment_intent.payment_failed":
            payment_mark_failed(payment_id=payment.pk)
        elif obj.get("refunded") is True:
            payment_mark_refunded(payment_id=payment.pk)
    except InvalidStatusTransition:
        # Events can arrive out of order; one that no longer applies changes nothing.
        logger.info("stripe event %s does not apply to payment %s", event["id"], payment.pk)
