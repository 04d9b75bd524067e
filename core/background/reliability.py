"""Task base classes: what a task promises when its worker dies, fails or runs long.

``ReliableTask`` is for work that must not be lost (emails, payment events)::

    @shared_task(base=ReliableTask, name="notifications.send_booking_email", time_limit=60)
    def send_booking_email(*, booking_id: int, kind: str) -> bool: ...

- **acks late, re-queued when the worker is lost**: the message is acknowledged only after the
  task returned, so a worker killed mid-task (SIGKILL, OOM, a lost node) leaves it on the
  broker, and another worker runs it (Redis: after ``CELERY_VISIBILITY_TIMEOUT``). The task
  must therefore be idempotent: it may run again after doing part or all of its work.
- **retries**: the errors in ``TRANSIENT_ERRORS`` (the database, the mail server or the network
  failing) are retried with exponential back-off (``TASK_RETRY_BACKOFF_SECONDS`` * 2**n, at most
  ``TASK_RETRY_BACKOFF_MAX_SECONDS``) and full jitter, so a recovering service is not hit by
  every retry at the same instant; at most ``TASK_RETRY_MAX`` times.
- **time limits**: the soft limit raises inside the task; the hard limit kills its process. The
  defaults are ``CELERY_TASK_SOFT_TIME_LIMIT`` / ``CELERY_TASK_TIME_LIMIT``; tasks set their own.
- **dead letters**: a task that fails for good (retries exhausted, a non-transient error, a time
  limit) is stored as a ``core.models.FailedTask``, which staff see and retry in the admin.

``HousekeepingTask`` is for periodic work: acknowledged on receipt and never retried, because
the next beat tick runs it again; failures are counted and logged, not kept as dead letters.

Both run the task body in a replica routing scope of its own (``core.db.routing_scope``), so a
task that writes reads its own writes, and on the primary for ``REPLICA_PIN_SECONDS`` after
the enqueue: a task started right after the write that asked for it never reads a replica that
has not replayed that write yet.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import time
from typing import Any

from celery import Task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from core.background.outbox import ENQUEUED_AT_HEADER
from core.db import conf as db_conf
from core.db import routing_scope, use_primary

logger = logging.getLogger(__name__)


class TransientError(Exception):
    """Raise from a task for a failure worth retrying that is none of the errors below."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    # The database went away, a lock or statement timeout, a serialization failure.
    OperationalError,
    InterfaceError,
    smtplib.SMTPException,
    ConnectionError,
    TimeoutError,
)


def enqueued_at(request: Any) -> float | None:
    """When the task's message was first enqueued (epoch seconds), if it says."""
    value = getattr(request, ENQUEUED_AT_HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(ENQUEUED_AT_HEADER)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class _RoutedTask(Task):
    """Runs the body in its own routing scope; pinned to the primary within the pin window."""

    abstract = True
    timer = staticmethod(time.time)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with routing_scope(), self._primary_if_recent():
            return super().__call__(*args, **kwargs)

    def _primary_if_recent(self) -> contextlib.AbstractContextManager[Any]:
        started = enqueued_at(self.request)
        if started is not None and self.timer() - started < db_conf.pin_seconds():
            return use_primary()
        return contextlib.nullcontext()

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """The task failed for good: keep it as a dead letter (never raises)."""
        from core.background import dead_letters

        dead_letters.record(
            task_name=self.name,
            task_id=task_id,
            args=args,
            kwargs=kwargs,
            exc=exc,
            traceback=str(einfo) if einfo is not None else "",
            retries=int(getattr(self.request, "retries", 0) or 0),
        )


class ReliableTask(_RoutedTask):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    max_retries = settings.TASK_RETRY_MAX
    retry_backoff = settings.TASK_RETRY_BACKOFF_SECONDS
    retry_backoff_max = settings.TASK_RETRY_BACKOFF_MAX_SECONDS
    retry_jitter = True


class HousekeepingTask(_RoutedTask):
    abstract = True
    acks_late = False
    max_retries = 0

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Logged and counted (``tasks_failed_total``), not kept: the next tick is the retry, and
        a periodic task failing through an outage would fill the dead letters with copies."""
        logger.error("housekeeping task %s failed: %s: %s", self.name, type(exc).__name__, exc)
