"""Emails we send: about bookings, one row per (booking, kind), and about accounts, one row per
(user, kind, incident); the row is the key that makes sending once."""

from django.conf import settings
from django.db import models

from bookings.models import Booking


class Notification(models.Model):
    """One email about one booking. The unique (booking, kind) row is locked while the email is
    sent and marked sent in the same transaction, so a task that runs twice — retried,
    re-delivered after a worker died, or published twice by the outbox — sends it once."""

    class Kind(models.TextChoices):
        BOOKING_RECEIVED = "booking_received"
        BOOKING_CONFIRMED = "booking_confirmed"
        BOOKING_CANCELLED = "booking_cancelled"
        REVIEW_REQUEST = "review_request"
        STAFF_NEW_BOOKING = "staff_new_booking"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        SKIPPED = "skipped"  # no longer applies (e.g. the customer already reviewed)

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["booking", "kind"], name="notification_once_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for booking #{self.booking_id} ({self.status})"


class AccountNotification(models.Model):
    """One security email to one account per incident (e.g. its password being guessed at).
    Like ``Notification``, the unique row is locked while the email is sent and marked sent in
    the same transaction, so a task delivered twice sends it once."""

    class Kind(models.TextChoices):
        LOGIN_FAILURES = "login_failures"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_notifications"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # What makes the alert one: for login failures, when the incident opened (throttle ms).
    incident = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=Notification.Status.choices, default=Notification.Status.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "incident"], name="account_notification_once_per_incident"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user #{self.user_id} ({self.status})"
