"""The transactional outbox: tasks are rows first, messages on the broker second.

``enqueue`` writes an ``OutboxMessage`` in the caller's transaction and, once it commits,
publishes it from the same process (``publish_after_commit``). The relay (``relay``, run by
beat every ``OUTBOX_RELAY_INTERVAL_SECONDS`` in a worker) publishes every row still
unpublished: the broker was down, the process died between commit and publish, or the circuit
breaker had the publish skipped.

Exactly which process publishes a row is decided by a row lock: each publisher takes its rows
``FOR UPDATE SKIP LOCKED``, publishes, and sets ``published_at`` in that same transaction. Two
publishers never hold one row; a publisher that dies after the broker took the message but
before its commit leaves the row unpublished, and it is published again (the same task id).
So delivery is at least once, never zero times, and tasks are idempotent.

A request never fails or waits because of the broker: the publish after commit makes one
attempt with short timeouts (kombu's retries bounded by ``CELERY_BROKER_TRANSPORT_OPTIONS``),
any error is logged and counted and the row left for the relay, and after
``OUTBOX_BREAKER_FAILURES`` failures in a row a circuit breaker skips the broker for
``OUTBOX_BREAKER_COOLDOWN_SECONDS``.

Embedded default (``CELERY_TASK_ALWAYS_EAGER``): the row is marked published and the task runs
in this process right after the commit, outside any transaction.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from celery import Task, current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.circuit_breaker import CircuitBreaker
from core.models import OutboxMessage
from core.observability import metrics

logger = logging.getLogger(__name__)

# Header carrying when the work was asked for (epoch seconds: the outbox row's creation), read
# by ``core.background.reliability`` for the queue-latency metric and the replica pin.
ENQUEUED_AT_HEADER = "enqueued_at"

_breaker: CircuitBreaker | None = None


def breaker() -> CircuitBreaker:
    """The per-process breaker in front of publishing after commit."""
    global _breaker
    if _breaker is None:
        _breaker = CircuitBreaker(
            "task-broker",
            failure_threshold=settings.OUTBOX_BREAKER_FAILURES,
            cooldown_seconds=settings.OUTBOX_BREAKER_COOLDOWN_SECONDS,
        )
    return _breaker


def enqueue(task: Task, *args: Any, **kwargs: Any) -> OutboxMessage:
    """Run ``task(*args, **kwargs)`` in a worker once the current transaction commits.

    Arguments must be JSON (ids, strings, numbers): pass ids, not model instances, and let the
    task read the rows. Call it inside the transaction of the write it follows; outside one the
    row commits at once. Never raises for the broker's sake.
    """
    return enqueue_by_name(task.name, *args, **kwargs)


def enqueue_by_name(task_name: str, *args: Any, **kwargs: Any) -> OutboxMessage:
    """``enqueue`` for a registered task's name (dead letters keep names, not objects)."""
    message = OutboxMessage.objects.create(
        task_name=task_name, args=list(args), kwargs=kwargs, task_id=uuid.uuid4()
    )
    transaction.on_commit(partial(publish_after_commit, message.pk, messages=[message]))
    return message


def enqueue_many(task: Task, calls: list[dict[str, Any]]) -> list[OutboxMessage]:
    """``enqueue`` of ``task(**kwargs)`` for each of ``calls``, their rows written in one
    INSERT and published after the commit together (one UPDATE marks them published)."""
    messages = OutboxMessage.objects.bulk_create(
        OutboxMessage(task_name=task.name, args=[], kwargs=kwargs, task_id=uuid.uuid4())
        for kwargs in calls
    )
    if messages:
        ids = [message.pk for message in messages]
        transaction.on_commit(partial(publish_after_commit, *ids, messages=messages))
    return messages


def publish_after_commit(*message_ids: int, messages: list[OutboxMessage] | None = None) -> bool:
    """Publish committed rows now; True when this call published them all. Never raises.

    ``messages``: the rows as enqueued, when the caller has them (no query to read them back).
    One UPDATE both claims the rows and marks them published, in a transaction that commits
    only once the broker took them all: a row the relay holds is skipped (``SKIP LOCKED``), a
    failed publish rolls the mark back and leaves every row of the call for the relay (the
    ones already on the broker are published again, at least once). A process killed before
    the commit leaves them unpublished, as before.
    """
    known = {message.pk: message for message in messages or ()}
    if current_app.conf.task_always_eager:
        return all([_run_eagerly(pk, known.get(pk)) for pk in message_ids])
    if not breaker().allow():
        metrics.task_publish_failures.labels(reason="breaker_open").inc()
        return False
    try:
        with transaction.atomic():
            claimed = _claim(message_ids)
            if claimed != len(message_ids):
                # The relay holds some of them: it publishes those; publish the rest one by one.
                raise _Contended()
            # One producer, its messages sent to the broker together when the batch closes
            # (one Redis pipeline); an error there fails the call like any publish error.
            with current_app.producer_or_acquire() as producer, producer.batch():
                for pk in message_ids:
                    _publish(known.get(pk) or OutboxMessage.objects.get(pk=pk), producer)
    except _Contended:
        published = all([_publish_one_locked(pk) for pk in message_ids])
        # Rows the relay holds are not sent from here: a call that found all of them held made
        # no broker call, and if it was the breaker's probe it gives the probe back.
        breaker().record_unused()
        return published
    except Exception as exc:  # the broker's errors vary by transport; none may reach the caller
        _publish_failed(message_ids, exc)
        return False
    breaker().record_success()
    return True


class _Contended(Exception):
    """Raised to roll a partial claim back."""


def _claim(message_ids: tuple[int, ...]) -> int:
    """Mark the unpublished rows among ``message_ids`` that nobody else holds as published,
    holding their locks until the caller's transaction ends; return how many.

    The statement the ORM makes of ``filter(pk__in=<those rows, FOR UPDATE SKIP LOCKED>)
    .update(published_at=now)``, written out: building and compiling it cost ~1 ms of a
    booking's ~9 ms of CPU (it runs after every write that enqueues)."""
    connection = transaction.get_connection()
    quote, meta = connection.ops.quote_name, OutboxMessage._meta
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    published_at = meta.get_field("published_at")
    column = quote(published_at.column)
    # SQLite has no row locks (its writers take turns): the ORM leaves the clause out there too.
    skip_locked = connection.features.has_select_for_update_skip_locked
    placeholders = ", ".join(["%s"] * len(message_ids))
    # Identifiers from the model's metadata, quoted; every value is a bound parameter.
    sql = (
        f"UPDATE {table} SET {column} = %s WHERE {pk} IN ("  # noqa: S608
        f"SELECT {pk} FROM {table} WHERE {pk} IN ({placeholders}) AND {column} IS NULL"
        f"{' FOR UPDATE SKIP LOCKED' if skip_locked else ''})"
    )
    now = published_at.get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *message_ids])
        return int(cursor.rowcount)


def _publish_one_locked(message_id: int) -> bool:
    try:
        with transaction.atomic():
            message = (
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(pk=message_id, published_at__isnull=True)
                .first()
            )
            if message is None:
                return False  # the relay holds it, or published it already
            _publish(message)
            _mark_published([message.pk])
    except Exception as exc:  # the broker's errors vary by transport; none may reach the caller
        _publish_failed((message_id,), exc)
        return False
    breaker().record_success()
    return True


def _publish_failed(message_ids: tuple[int, ...], exc: Exception) -> None:
    breaker().record_failure()
    metrics.task_publish_failures.labels(reason="error").inc()
    logger.warning(
        "could not publish task message(s) %s (%s: %s); the outbox relay will",
        ", ".join(map(str, message_ids)),
        type(exc).__name__,
        exc,
    )
    _note_failure(list(message_ids), exc)


def relay(*, limit: int | None = None) -> int:
    """Publish up to ``limit`` unpublished rows, oldest first; return how many were published.

    Stops at the first broker error (the rest wait for the next run) and re-raises it, so the
    relay task's failure is counted.
    """
    limit = limit or settings.OUTBOX_RELAY_BATCH
    published: list[int] = []
    error: Exception | None = None
    with transaction.atomic():
        batch = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True)
            .order_by("id")[:limit]
        )
        for message in batch:
            try:
                _publish(message)
            except Exception as exc:  # any transport's error: stop, keep what was published
                error = exc
                _note_failure([message.pk], exc, in_transaction=True)
                break
            published.append(message.pk)
        _mark_published(published)
    if error is not None:
        metrics.task_publish_failures.labels(reason="error").inc()
        logger.warning(
            "outbox relay published %d of %d, then %s: %s",
            len(published),
            len(batch),
            type(error).__name__,
            error,
        )
        raise error
    if published:
        logger.info("outbox relay published %d message(s)", len(published))
    return len(published)


def pending_count() -> int:
    return OutboxMessage.objects.filter(published_at__isnull=True).count()


def oldest_pending_age_seconds(now: Any = None) -> float:
    """Age of the oldest unpublished row (0 when there is none)."""
    oldest = (
        OutboxMessage.objects.filter(published_at__isnull=True)
        .order_by("id")
        .values_list("created_at", flat=True)
        .first()
    )
    if oldest is None:
        return 0.0
    return max(0.0, ((now or timezone.now()) - oldest).total_seconds())


def purge_published(*, now: Any = None) -> int:
    """Delete rows published more than ``OUTBOX_RETENTION_DAYS`` ago; return how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    deleted, _ = OutboxMessage.objects.filter(published_at__lt=cutoff).delete()
    return deleted


# ---------------------------------------------------------------------------- internals
def _publish(message: OutboxMessage, producer: Any = None) -> None:
    # By name: the publishing process need not have imported the task's module.
    current_app.send_task(
        message.task_name,
        args=message.args,
        kwargs=message.kwargs,
        task_id=str(message.task_id),
        headers={ENQUEUED_AT_HEADER: message.created_at.timestamp()},
        # One attempt: kombu's connection retries are bounded by the transport options, and
        # the relay is the retry.
        retry=False,
        producer=producer,
    )


def _mark_published(ids: list[int]) -> None:
    if ids:
        OutboxMessage.objects.filter(pk__in=ids).update(published_at=timezone.now())


def _note_failure(ids: list[int], exc: BaseException, *, in_transaction: bool = False) -> None:
    from django.db.models import F

    if not ids:
        return
    error = f"{type(exc).__name__}: {exc}"[:1000]
    try:
        OutboxMessage.objects.filter(pk__in=ids, published_at__isnull=True).update(
            attempts=F("attempts") + 1, last_error=error
        )
    except Exception:  # bookkeeping only: the row is still unpublished, which is what matters
        if in_transaction:
            raise
        logger.exception("could not record the publish failure of outbox rows %s", ids)


def _run_eagerly(message_id: int, message: OutboxMessage | None = None) -> bool:
    claimed = OutboxMessage.objects.filter(pk=message_id, published_at__isnull=True).update(
        published_at=timezone.now()
    )
    if not claimed:
        return False
    if message is None:
        message = OutboxMessage.objects.get(pk=message_id)
    if message.task_name not in current_app.tasks:
        # Workers import every app's tasks.py at start; a web process only what it used.
        current_app.loader.import_default_modules()
    # Errors stay in the eager result (task_eager_propagates is off): the caller's response
    # is unaffected, and a task that failed for good is a dead letter like in a worker.
    current_app.tasks[message.task_name].apply(
        args=message.args,
        kwargs=message.kwargs,
        task_id=str(message.task_id),
        headers={ENQUEUED_AT_HEADER: message.created_at.timestamp()},
    )
    return True
