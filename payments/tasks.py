"""Stripe webhook events, applied by workers after the endpoint stored and acknowledged them."""

from celery import shared_task

from core.background import ReliableTask
from payments import services


@shared_task(
    base=ReliableTask,
    name=services.APPLY_PROVIDER_EVENT_TASK,
    soft_time_limit=30,
    time_limit=45,
)
def apply_provider_event(*, provider_event_id: int) -> bool:
    """Apply one stored provider event, at most once (``services.provider_event_process``)."""
    return services.provider_event_process(provider_event_id=provider_event_id)
