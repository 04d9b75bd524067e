"""Tasks that exist only for the tests of core/background (registered on import)."""

from __future__ import annotations

from celery import shared_task

from core.background import ReliableTask
from core.background.reliability import TransientError
from core.db.routing import current_state, primary_forced

calls: list[tuple[tuple, dict]] = []


@shared_task(base=ReliableTask, name="tests.record")
def record(*args: object, **kwargs: object) -> int:
    calls.append((args, kwargs))
    return len(calls)


@shared_task(base=ReliableTask, name="tests.always_transient", max_retries=3)
def always_transient() -> None:
    calls.append(((), {"attempt": True}))
    raise TransientError("the mail server is down")


@shared_task(base=ReliableTask, name="tests.broken")
def broken(value: int) -> None:
    raise KeyError(value)


@shared_task(base=ReliableTask, name="tests.routing")
def routing() -> dict[str, bool]:
    return {"scoped": current_state() is not None, "primary": primary_forced()}
