"""Demo payments for demo bookings: deposits for confirmed events, balances for past ones."""

import datetime
from collections.abc import Callable, Iterable

from django.utils import timezone

from bookings.models import Booking
from payments.models import Payment

BATCH_SIZE = 2000


def seed_payments(
    *, bookings: Iterable[Booking], progress: Callable[[int], None] | None = None
) -> int:
    """Payments for bookings that have none (idempotent). Returns how many were created."""
    now = timezone.now()
    created = 0
    batch: list[Payment] = []
    for booking in bookings:
        batch.extend(_payments_for(booking, now))
        if len(batch) >= BATCH_SIZE:
            created += len(Payment.objects.bulk_create(batch))
            batch.clear()
            if progress:
                progress(created)
    created += len(Payment.objects.bulk_create(batch))
    if progress:
        progress(created)
    return created


def _payments_for(booking: Booking, now: datetime.datetime) -> list[Payment]:
    def payment(kind: str, amount: int, status: str) -> Payment:
        settled = now if status != Payment.Status.PENDING else None
        return Payment(
            booking=booking,
            kind=kind,
            amount=amount,
            currency=booking.currency,
            status=status,
            provider=Payment.Provider.MANUAL,
            settled_at=settled,
        )

    Status = Booking.Status
    deposit = payment(Payment.Kind.DEPOSIT, booking.deposit_due, Payment.Status.SUCCEEDED)
    if booking.status == Status.COMPLETED:
        balance = booking.total - booking.deposit_due
        if balance <= 0:
            return [deposit]
        return [deposit, payment(Payment.Kind.BALANCE, balance, Payment.Status.SUCCEEDED)]
    if booking.status == Status.CONFIRMED:
        return [deposit]
    if booking.status == Status.PENDING and booking.pk % 2 == 0:
        return [payment(Payment.Kind.DEPOSIT, booking.deposit_due, Payment.Status.PENDING)]
    return []
