"""Stripe webhook events, applied by workers after the endpoint stored and acknowledged them."""

from celery import shared_task

from core.background import ReliableTask


@shared_task(
    base=ReliableTask,
    name="payments.apply_provider_event",
    soft_time_limit=30,
    time_limit=45,
)
def apply_provider_event(*, provider_event_id: int) -> bool:
    """Apply one stored provider event, at most once (``services.provider_event_process``)."""
    from payments import services  # services enqueue this task: import it at run time

    return services.provider_event_process(provider_event_id=provider_event_id)
