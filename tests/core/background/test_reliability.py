"""What a task promises: retries with back-off up to a cap, then a dead letter staff can retry;
its own routing scope; acks late for work that must not be lost."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from core.background import HousekeepingTask, ReliableTask, dead_letters
from core.background.reliability import TRANSIENT_ERRORS
from core.models import FailedTask, OutboxMessage
from core.observability import metrics
from notifications.tasks import send_booking_email
from payments.tasks import apply_provider_event
from tests.core.background import tasks

pytestmark = pytest.mark.django_db


def count(counter, task: str) -> float:
    return counter.labels(task=task)._value.get()


def test_tasks_that_must_not_be_lost_are_acknowledged_late_and_requeued_when_lost():
    for task in (send_booking_email, apply_provider_event):
        assert isinstance(task, ReliableTask)
        assert task.acks_late and task.reject_on_worker_lost
        assert task.autoretry_for == TRANSIENT_ERRORS
        assert task.retry_jitter and task.retry_backoff
        assert task.time_limit and task.soft_time_limit < task.time_limit


def test_housekeeping_is_not_retried():
    from core import tasks as housekeeping

    assert isinstance(housekeeping.outbox_relay, HousekeepingTask)
    assert not housekeeping.outbox_relay.acks_late
    assert housekeeping.outbox_relay.max_retries == 0


def test_a_failing_housekeeping_run_is_counted_not_kept(monkeypatch):
    from core import tasks as housekeeping

    def broken_purge(**kwargs):
        raise RuntimeError("the database is read-only")

    monkeypatch.setattr(housekeeping, "purge_expired_keys", broken_purge)
    failed = count(metrics.tasks_failed, "core.purge_expired")
    assert housekeeping.purge_expired.apply().failed()
    assert count(metrics.tasks_failed, "core.purge_expired") == failed + 1
    assert not FailedTask.objects.exists()  # the next tick is its retry


def test_a_transient_failure_is_retried_up_to_the_cap_then_kept_as_a_dead_letter():
    tasks.calls.clear()
    retried = count(metrics.tasks_retried, "tests.always_transient")
    failed = count(metrics.tasks_failed, "tests.always_transient")
    # when a task keeps failing with a transient error (run in-process: retries at once)
    result = tasks.always_transient.apply_async()
    # then it ran 1 + 3 times, was retried 3 times, failed once, and is a dead letter
    assert result.failed()
    assert len(tasks.calls) == 4
    assert count(metrics.tasks_retried, "tests.always_transient") == retried + 3
    assert count(metrics.tasks_failed, "tests.always_transient") == failed + 1
    [dead] = FailedTask.objects.all()
    assert dead.task_name == "tests.always_transient"
    assert dead.exception == "TransientError: the mail server is down"
    assert dead.retries == 3
    assert "TransientError" in dead.traceback


def test_a_programming_error_is_not_retried():
    tasks.broken.apply_async(args=[3])
    [dead] = FailedTask.objects.all()
    assert dead.retries == 0 and dead.args == [3]


def test_backoff_is_exponential_with_jitter_and_capped():
    from celery.utils.time import get_exponential_backoff_interval

    task = send_booking_email
    waits = [
        get_exponential_backoff_interval(
            factor=int(task.retry_backoff),
            retries=n,
            maximum=task.retry_backoff_max,
            full_jitter=False,
        )
        for n in range(12)
    ]
    assert waits[:4] == [2, 4, 8, 16]
    assert max(waits) == task.retry_backoff_max


def test_every_task_runs_in_its_own_routing_scope_on_the_primary_right_after_the_write():
    # enqueued just now: the replicas may not have the write yet
    fresh = tasks.routing.apply(headers={"enqueued_at": time.time()}).get()
    assert fresh == {"scoped": True, "primary": True}
    # enqueued long ago (a backlog): replicas are fine, and the task still has its own scope
    old = tasks.routing.apply(headers={"enqueued_at": time.time() - 3600}).get()
    assert old == {"scoped": True, "primary": False}


def test_staff_retry_a_dead_letter_once_from_the_admin(
    client, staff_user, django_capture_on_commit_callbacks
):
    tasks.calls.clear()
    dead = FailedTask.objects.create(
        task_name="tests.record", task_id="abc", args=[1], kwargs={"x": 2}, exception="E: boom"
    )
    client.force_login(staff_user)
    url = reverse("admin:core_failedtask_changelist")
    # the list shows it
    assert "E: boom" in client.get(url).content.decode()
    # when staff select it and run "retry"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"action": "retry_tasks", "_selected_action": [dead.pk]}, follow=True
        )
    assert response.status_code == 200
    # then the task was enqueued again with its arguments (and ran: eager here)
    dead.refresh_from_db()
    assert dead.retried_at is not None
    assert OutboxMessage.objects.get(task_id=dead.retry_task_id).args == [1]
    assert tasks.calls == [((1,), {"x": 2})]
    # and a second retry of the same dead letter is refused, with a message, not an error
    again = client.post(url, {"action": "retry_tasks", "_selected_action": [dead.pk]}, follow=True)
    assert "already retried" in again.content.decode()
    assert OutboxMessage.objects.count() == 1


def test_recording_a_dead_letter_never_raises(monkeypatch):
    from django.db import DatabaseError

    def down(**kwargs):
        raise DatabaseError("the database is down")

    monkeypatch.setattr(FailedTask.objects, "create", down)
    assert (
        dead_letters.record(task_name="t", task_id="1", args=[], kwargs={}, exc=ValueError("x"))
        is None
    )
