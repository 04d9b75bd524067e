"""Dead letters: tasks that failed for good, kept for staff to see and retry."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone

from core.background import outbox
from core.http.errors import Conflict
from core.models import FailedTask

logger = logging.getLogger(__name__)


class AlreadyRetried(Conflict):
    code = "already_retried"
    default_message = "This failed task was already retried."


def record(
    *,
    task_name: str,
    task_id: str,
    args: Any,
    kwargs: Any,
    exc: BaseException,
    traceback: str = "",
    retries: int = 0,
) -> FailedTask | None:
    """Store a task that failed for good; return the row, or None when it cannot be stored.

    Runs in its own transaction, after the task's own work rolled back. Never raises: a
    database that is down is logged (the log line carries everything needed to re-run it).
    """
    try:
        if not transaction.get_connection().in_atomic_block:
            close_old_connections()  # the failure may have been the connection itself
        with transaction.atomic():
            return FailedTask.objects.create(
                task_name=task_name,
                task_id=str(task_id or ""),
                args=_json_safe(list(args or [])),
                kwargs=_json_safe(dict(kwargs or {})),
                exception=f"{type(exc).__name__}: {exc}"[:2000],
                traceback=traceback[-20000:],
                retries=retries,
            )
    except DatabaseError:
        logger.exception(
            "could not store the dead letter of task %s[%s] args=%r kwargs=%r",
            task_name,
            task_id,
            args,
            kwargs,
        )
        return None


def failed_task_retry(*, failed_task_id: int) -> FailedTask:
    """Enqueue a dead letter's task again with its arguments (through the outbox), once.

    Raises ``AlreadyRetried`` when it was retried before: a new failure of the retried task
    makes a new dead letter, which can be retried in turn.
    """
    with transaction.atomic():
        failed = FailedTask.objects.select_for_update().get(pk=failed_task_id)
        if failed.retried_at is not None:
            raise AlreadyRetried()
        message = outbox.enqueue_by_name(failed.task_name, *failed.args, **failed.kwargs)
        failed.retried_at = timezone.now()
        failed.retry_task_id = str(message.task_id)
        failed.save(update_fields=["retried_at", "retry_task_id"])
    return failed


def _json_safe(value: Any) -> Any:
    """Arguments as JSON can store them (tasks take JSON arguments; this is a safety net)."""
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=repr))
    return value
