"""Payments against bookings (money in integer cents) and the provider events applied to them."""

from django.db import models
from django.db.models import Q

from bookings.models import Booking


class Payment(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        BALANCE = "balance"
        REFUND = "refund"

    class Status(models.TextChoices):
        # Reserved while the provider is called (payments.services.payment_create): its amount
        # is owed-for, customers never see it, and it becomes pending or is deleted.
        CREATING = "creating"
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        REFUNDED = "refunded"

    class Provider(models.TextChoices):
        MANUAL = "manual"
        STRIPE = "stripe"

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.PositiveIntegerField(help_text="Cents; a refund's amount is also positive.")
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    provider_reference = models.CharField(
        max_length=255, blank=True, help_text="Stripe PaymentIntent id, or staff's receipt note."
    )
    # The customer's Idempotency-Key of the request that reserved it: a retry under the same key
    # (which now holds the key's claim) deletes a reservation its earlier attempt left behind.
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["booking", "status"], name="payment_booking_status"),
            models.Index(fields=["status", "-created_at"], name="payment_status_newest"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="payment_provider_reference_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount / 100:.2f} {self.currency} ({self.status})"


class ProviderEvent(models.Model):
    """A verified webhook event. Its unique id makes re-deliveries no-ops; ``processed_at`` is set
    in the transaction that applies its effect, so a task that runs twice applies it once."""

    provider = models.CharField(max_length=16, choices=Payment.Provider.choices)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="provider_event_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id} {self.event_type}"
