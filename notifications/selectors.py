"""Reads of the notifications app."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import Booking
from notifications.models import Notification


def bookings_due_review_request(*, now: datetime.datetime | None = None) -> QuerySet[Booking]:
    """Completed bookings whose event was yesterday or earlier (at most
    ``REVIEW_REQUEST_MAX_AGE_DAYS`` ago), with no review and no review request yet."""
    today = timezone.localdate(now or timezone.now())
    latest = today - datetime.timedelta(days=1)
    earliest = today - datetime.timedelta(days=settings.REVIEW_REQUEST_MAX_AGE_DAYS)
    return (
        Booking.objects.filter(
            status=Booking.Status.COMPLETED,
            event_date__gte=earliest,
            event_date__lte=latest,
            review__isnull=True,
        )
        .exclude(notifications__kind=Notification.Kind.REVIEW_REQUEST)
        .order_by("pk")
    )
