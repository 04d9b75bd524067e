"""Emails other apps ask for through their signals (connected in ``NotificationsConfig``)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from accounts.models import User
from core.background import enqueue
from notifications.models import AccountNotification
from notifications.tasks import send_account_email

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


def connect() -> None:
    """Called once from ``NotificationsConfig.ready()``."""
    from accounts import signals as accounts_signals

    accounts_signals.login_failures_alert.connect(
        login_failures_alert, dispatch_uid="notifications.login_failures_alert"
    )
