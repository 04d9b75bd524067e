"""Bookings housekeeping, run by Celery beat (CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from bookings import services
from core.background import HousekeepingTask


@shared_task(
    base=HousekeepingTask,
    name="bookings.complete_past_bookings",
    soft_time_limit=120,
    time_limit=180,
)
def complete_past_bookings() -> int:
    """Confirmed bookings whose event is over become completed (reviews open for them)."""
    return services.bookings_complete_past()
