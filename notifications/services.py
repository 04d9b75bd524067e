"""Sending the emails about bookings, each at most once per (booking, kind).

Plain text and HTML from templates in ``notifications/email/``: ``<kind>_subject.txt``,
``<kind>.txt`` and ``<kind>.html`` (extending ``base.html``).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from bookings.selectors import event_start
from core.background.reliability import TRANSIENT_ERRORS
from notifications.models import AccountNotification, Notification

logger = logging.getLogger(__name__)

Kind = Notification.Kind
STAFF_KINDS = frozenset({Kind.STAFF_NEW_BOOKING})


def booking_email_send(*, booking_id: int, kind: str, now: datetime.datetime | None = None) -> bool:
    """Send the ``kind`` email about a booking unless it was sent (or skipped) before.

    Returns True when this call sent it. The notification row is locked from before the send
    until it is marked sent, in one transaction: a concurrent duplicate waits and then finds it
    sent. A send that fails raises (the task retries) and leaves the row pending. The one gap
    no database can close: a process killed after the mail server accepted the message but
    before the commit sends it again on the retry (at least once, rather than never).
    """
    kind = Kind(kind)
    with transaction.atomic():
        # The row, created unless it exists (ON CONFLICT DO NOTHING: no savepoint), then locked.
        Notification.objects.bulk_create(
            [Notification(booking_id=booking_id, kind=kind)], ignore_conflicts=True
        )
        notification = Notification.objects.select_for_update().get(
            booking_id=booking_id, kind=kind
        )
        if notification.status != Notification.Status.PENDING:
            return False
        booking = Booking.objects.select_related("customer", "package", "chef").get(pk=booking_id)
        reason = _skip_reason(booking, kind)
        recipients = _recipients(booking, kind)
        if reason is None and not recipients:
            reason = "no recipients"
        if reason is not None:
            notification.status = Notification.Status.SKIPPED
            notification.save(update_fields=["status"])
            logger.info("email %s for booking %s skipped: %s", kind, booking_id, reason)
            return False
        message = render_email(booking=booking, kind=kind, to=recipients)
        message.send()
        notification.status = Notification.Status.SENT
        notification.recipients = recipients
        notification.subject = message.subject
        notification.sent_at = now or timezone.now()
        notification.save(update_fields=["status", "recipients", "subject", "sent_at"])
    logger.info("email %s for booking %s sent", kind, booking_id)
    return True


def booking_emails_send(
    *, booking_id: int, kinds: Sequence[str], now: datetime.datetime | None = None
) -> list[str]:
    """``booking_email_send`` for each of ``kinds``, each in its own transaction; returns the
    kinds this call sent. One email failing does not hold the others back: an error is raised
    once all were tried, and the task's retry sends only what is still pending."""
    sent: list[str] = []
    errors: list[Exception] = []
    for kind in kinds:
        try:
            if booking_email_send(booking_id=booking_id, kind=kind, now=now):
                sent.append(kind)
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: no next email started with the hard limit near
        except Exception as exc:  # raised below, after the other kinds had their turn
            errors.append(exc)
    if errors:
        # A transient error if there is one, so that the task is retried (ReliableTask) for
        # an email that failed only for now even when another failed for good.
        raise next((exc for exc in errors if isinstance(exc, TRANSIENT_ERRORS)), errors[0])
    return sent


def render_email(*, booking: Booking, kind: str, to: list[str]) -> EmailMultiAlternatives:
    """The message for ``kind``: subject, plain-text body and its HTML alternative."""
    context = email_context(booking)
    subject = " ".join(render_to_string(f"notifications/email/{kind}_subject.txt", context).split())
    text = render_to_string(f"notifications/email/{kind}.txt", context)
    html = render_to_string(f"notifications/email/{kind}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"X-MyHibachi-Booking": str(booking.pk), "X-MyHibachi-Notification": kind},
    )
    message.attach_alternative(html, "text/html")
    return message


def email_context(booking: Booking) -> dict[str, object]:
    site = settings.SITE_URL.rstrip("/")
    return {
        "booking": booking,
        "customer_name": booking.customer.name or booking.customer.email,
        "package_name": booking.package.name,
        "starts_at": event_start(date=booking.event_date, start_time=booking.start_time),
        "guests": booking.guests,
        "total": money(booking.total, booking.currency),
        "deposit_due": money(booking.deposit_due, booking.currency),
        "booking_url": f"{site}/bookings/{booking.pk}",
        "review_url": f"{site}/bookings/{booking.pk}/review",
        "admin_url": f"{site}{reverse('admin:bookings_booking_change', args=[booking.pk])}",
        "site_url": site,
    }


def money(cents: int, currency: str) -> str:
    """``123456, "USD"`` -> ``"$1,234.56"`` (other currencies: ``"1,234.56 EUR"``)."""
    amount = f"{cents // 100:,}.{cents % 100:02d}"
    return f"${amount}" if currency == "USD" else f"{amount} {currency}"


def _recipients(booking: Booking, kind: str) -> list[str]:
    if kind in STAFF_KINDS:
        if settings.STAFF_NOTIFICATION_EMAILS:
            return list(settings.STAFF_NOTIFICATION_EMAILS)
        staff = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
        return sorted(staff.values_list("email", flat=True))
    return [booking.customer.email]


def _skip_reason(booking: Booking, kind: str) -> str | None:
    """Why an email no longer applies by the time it is sent, or None."""
    if kind == Kind.REVIEW_REQUEST:
        if booking.status != Booking.Status.COMPLETED:
            return f"the booking is {booking.status}"
        if hasattr(booking, "review"):
            return "the customer already reviewed it"
    return None


def account_email_send(*, notification_id: int, now: datetime.datetime | None = None) -> bool:
    """Send one account email (e.g. a login failures alert) unless it was sent before; True
    when this call sent it. The same locking as ``booking_email_send``."""
    with transaction.atomic():
        notification = (
            AccountNotification.objects.select_for_update()
            .select_related("user")
            .get(pk=notification_id)
        )
        if notification.status != Notification.Status.PENDING:
            return False
        user = notification.user
        site = settings.SITE_URL.rstrip("/")
        context = {
            "customer_name": user.name or user.email,
            "failures": notification.failures,
            "hours": settings.LOGIN_ALERT_INCIDENT_HOURS,
            "site_url": site,
        }
        kind = notification.kind
        subject = " ".join(
            render_to_string(f"notifications/email/{kind}_subject.txt", context).split()
        )
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string(f"notifications/email/{kind}.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[user.email],
            headers={"X-MyHibachi-Notification": kind},
        )
        message.attach_alternative(
            render_to_string(f"notifications/email/{kind}.html", context), "text/html"
        )
        message.send()
        notification.status = Notification.Status.SENT
        notification.sent_at = now or timezone.now()
        notification.save(update_fields=["status", "sent_at"])
    logger.info("email %s for user %s sent", kind, user.pk)
    return True
