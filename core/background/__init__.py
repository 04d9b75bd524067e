"""Background work on Celery: the transactional outbox, reliable task classes, dead letters.

A write that needs work done later calls ``enqueue`` inside its transaction::

    from core.background import enqueue

    with transaction.atomic():
        booking = Booking.objects.create(...)
        enqueue(send_booking_email, booking_id=booking.pk, kind="booking_received")

``enqueue`` writes an ``OutboxMessage`` row in that transaction and publishes it right after the
commit. A rolled-back write leaves no row, so nothing is sent; a committed one is never lost:
when the broker is down the row waits, and the relay (a beat task, ``core.outbox_relay``)
publishes it when the broker is back. Requests never fail or wait because of the broker
(outbox.py). Delivery is at least once, so every task is idempotent: it records its effect under
a unique key in the same transaction as the effect (a sent notification per booking and kind, a
provider event's ``processed_at``).

Task classes (reliability.py): ``ReliableTask`` for work that must not be lost (acks late,
re-queued when its worker dies, retried with exponential back-off and jitter up to a cap, then
kept as a ``FailedTask`` dead letter that staff can retry in the admin); ``HousekeepingTask``
for periodic work that the next beat tick repeats anyway. Every task runs in its own replica
routing scope (it reads its own writes), on the primary while the write that enqueued it may
not have reached the replicas yet.

Observability: signals.py counts tasks started, succeeded, failed and retried per task name,
and the enqueue -> start latency; status.py answers ``manage.py tasks_status``.
"""

from core.background.outbox import enqueue
from core.background.reliability import HousekeepingTask, ReliableTask

__all__ = ["HousekeepingTask", "ReliableTask", "enqueue"]
