"""Emails to customers and staff, sent by workers (enqueued through ``core.background``)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from core.background import HousekeepingTask, ReliableTask, enqueue
from notifications import selectors, services
from notifications.models import Notification


@shared_task(
    base=ReliableTask,
    name="notifications.send_booking_email",
    soft_time_limit=30,
    time_limit=45,
)
def send_booking_email(*, booking_id: int, kind: str) -> bool:
    """Send one email about a booking, once (``services.booking_email_send``): review
    requests, and the messages a booking event enqueued before ``send_booking_emails``."""
    return services.booking_email_send(booking_id=booking_id, kind=kind)


@shared_task(
    base=ReliableTask,
    name="notifications.send_booking_emails",
    soft_time_limit=60,
    time_limit=90,
)
def send_booking_emails(*, booking_id: int, kinds: list[str]) -> list[str]:
    """Send a booking event's emails, each once (``services.booking_emails_send``): one task
    for all of them, so an event costs one outbox row, one message and one task run."""
    return services.booking_emails_send(booking_id=booking_id, kinds=kinds)


@shared_task(
    base=ReliableTask,
    name="notifications.send_account_email",
    soft_time_limit=30,
    time_limit=45,
)
def send_account_email(*, notification_id: int) -> bool:
    """Send one email about an account, once (``services.account_email_send``)."""
    return services.account_email_send(notification_id=notification_id)


@shared_task(
    base=HousekeepingTask,
    name="notifications.send_review_requests",
    soft_time_limit=120,
    time_limit=180,
)
def send_review_requests() -> int:
    """Enqueue a review request for each completed event of yesterday or before; return how many.

    The pending notification row is written with its outbox row, so the next run (or one
    running concurrently) does not enqueue the same booking again.
    """
    enqueued = 0
    for booking_id in selectors.bookings_due_review_request().values_list("pk", flat=True):
        with transaction.atomic():
            _, created = Notification.objects.get_or_create(
                booking_id=booking_id, kind=Notification.Kind.REVIEW_REQUEST
            )
            if created:
                enqueue(
                    send_booking_email,
                    booking_id=booking_id,
                    kind=Notification.Kind.REVIEW_REQUEST.value,
                )
                enqueued += 1
    return enqueued
