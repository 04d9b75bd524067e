"""Emails other apps ask for through their signals (connected in ``NotificationsConfig``)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from accounts.models import User
from bookings import signals as bookings_signals
from bookings.models import Booking
from core.background import enqueue
from notifications.models import AccountNotification, Notification
from notifications.tasks import send_account_email, send_booking_emails

logger = logging.getLogger(__name__)


def login_failures_alert(
    sender: object, *, user: User, incident: str, failures: int, **kwargs: Any
) -> None:
    """Record the alert and send it through the outbox (once per user and incident)."""
    with transaction.atomic():
        alert, created = AccountNotification.objects.get_or_create(
            user=user,
            kind=AccountNotification.Kind.LOGIN_FAILURES,
            incident=incident,
            defaults={"failures": failures},
        )
        if created:
            enqueue(send_account_email, notification_id=alert.pk)
    logger.warning("login failures alert for user %s (%s failures)", user.pk, failures)


# The emails each booking event sends (each at most once per booking and kind).
BOOKING_EMAILS = {
    bookings_signals.RECEIVED: (
        Notification.Kind.BOOKING_RECEIVED,
        Notification.Kind.STAFF_NEW_BOOKING,
    ),
    bookings_signals.CONFIRMED: (Notification.Kind.BOOKING_CONFIRMED,),
    bookings_signals.CANCELLED: (Notification.Kind.BOOKING_CANCELLED,),
}


def booking_changed(sender: object, *, booking: Booking, event: str, **kwargs: Any) -> None:
    """Email about ``booking`` once the booking's transaction commits (core/background): one
    task for the event's emails, its outbox row written in the booking's transaction."""
    kinds = [str(kind) for kind in BOOKING_EMAILS[event]]
    enqueue(send_booking_emails, booking_id=booking.pk, kinds=kinds)


def connect() -> None:
    """Called once from ``NotificationsConfig.ready()``."""
    from accounts import signals as accounts_signals

    accounts_signals.login_failures_alert.connect(
        login_failures_alert, dispatch_uid="notifications.login_failures_alert"
    )
    bookings_signals.booking_changed.connect(
        booking_changed, dispatch_uid="notifications.booking_changed"
    )
