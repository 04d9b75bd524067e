"""The outbox: a task is a row written with the business write, published after the commit,
by this process or, when that fails, by the relay; never lost, never raising into a request."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis
from django.db import connections, transaction
from django.utils import timezone

from core.background import enqueue, outbox
from core.models import FailedTask, OutboxMessage
from core.observability import metrics
from tests.core.background import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_calls() -> Iterator[None]:
    tasks.calls.clear()
    outbox._breaker = None
    yield
    tasks.calls.clear()
    outbox._breaker = None


def counted(reason: str) -> float:
    return metrics.task_publish_failures.labels(reason=reason)._value.get()


# ---------------------------------------------------------------------------- eager (embedded)
def test_a_committed_write_runs_its_task_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = enqueue(tasks.record, 1, colour="red")
        # inside the transaction: a row, not yet run
        assert tasks.calls == []
    assert tasks.calls == [((1,), {"colour": "red"})]
    message.refresh_from_db()
    assert message.task_name == "tests.record" and message.published_at is not None


def test_a_rolled_back_write_enqueues_nothing(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue(tasks.record, 1)
        raise RuntimeError("the request failed")
    assert callbacks == []
    assert not OutboxMessage.objects.exists()
    assert tasks.calls == []


def test_a_task_failing_in_process_is_a_dead_letter_not_an_error_for_the_caller(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(tasks.broken, 7)  # no exception reaches us
    [failed] = FailedTask.objects.all()
    assert failed.task_name == "tests.broken"
    assert failed.args == [7]
    assert failed.exception == "KeyError: 7"


# ---------------------------------------------------------------------------- broker down
def test_a_publish_that_fails_leaves_the_row_for_the_relay_and_never_raises(broker_at):
    # given a broker nobody listens on
    broker_at("redis://127.0.0.1:1/0")
    message = enqueue(tasks.record, 1)  # outside a transaction: committed at once
    errors_before = counted("error")
    # when it is published right after the commit
    published = outbox.publish_after_commit(message.pk)
    # then nothing is raised, the row waits with the error recorded, and the failure is counted
    assert published is False
    message.refresh_from_db()
    assert message.published_at is None
    assert message.attempts == 1 and "Error" in message.last_error
    assert counted("error") == errors_before + 1


def test_after_repeated_failures_the_breaker_skips_the_broker(broker_at, settings):
    broker_at("redis://127.0.0.1:1/0")
    messages = [enqueue(tasks.record, i) for i in range(settings.OUTBOX_BREAKER_FAILURES + 2)]
    skipped_before = counted("breaker_open")
    for message in messages:
        assert outbox.publish_after_commit(message.pk) is False
    # the first ones tried and failed; then the broker was not even tried
    assert counted("breaker_open") == skipped_before + 2
    attempts = sorted(OutboxMessage.objects.values_list("attempts", flat=True))
    assert attempts == [0, 0] + [1] * settings.OUTBOX_BREAKER_FAILURES
    assert outbox.pending_count() == len(messages)


def test_a_probe_that_finds_nothing_to_publish_gives_the_probe_back(broker_at, monkeypatch):
    # given the breaker open after failures, its cool-down over, and a row the relay published
    broker_at("redis://127.0.0.1:1/0")
    message = enqueue(tasks.record, 1)
    OutboxMessage.objects.filter(pk=message.pk).update(published_at=timezone.now())
    breaker = outbox.breaker()
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()
    monkeypatch.setattr(breaker, "timer", lambda: breaker._opened_at + 3600)

    # when the first publish after the cool-down (the probe) has nothing to send
    assert outbox.publish_after_commit(message.pk) is False

    # then the breaker is not left half-open, refusing every publish: the next one probes
    assert breaker.state == "open"
    assert breaker.allow() is True


def test_the_relay_stops_at_a_broker_error_and_raises(broker_at):
    broker_at("redis://127.0.0.1:1/0")
    for i in range(3):
        enqueue(tasks.record, i)
    with pytest.raises(Exception):  # noqa: B017 - whatever the transport raises
        outbox.relay()
    assert outbox.pending_count() == 3
    assert OutboxMessage.objects.filter(attempts=1).count() == 1  # it stopped at the first


# ---------------------------------------------------------------------------- a real broker
@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_publish_every_row_exactly_once(redis_server, broker_at):
    # given 40 unpublished rows and a real Redis as the broker (its database 1: not the cache)
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    broker_at(url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    OutboxMessage.objects.bulk_create(
        OutboxMessage(task_name="tests.record", args=[i], kwargs={}, task_id=f"{i:032x}")
        for i in range(40)
    )
    published: list[int] = []
    barrier = threading.Barrier(2, timeout=30)

    def run() -> None:
        try:
            barrier.wait()
            published.append(outbox.relay(limit=25))
        finally:
            connections.close_all()

    # when two relays run at the same instant (two beat ticks, two workers)
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # then every row was published once, by one of them
    assert sum(published) == 40
    assert client.llen("celery") == 40
    assert outbox.pending_count() == 0
    assert outbox.relay() == 0  # and nothing is left to publish again


@pytest.mark.django_db(transaction=True)
def test_publishing_after_commit_carries_the_task_id_and_enqueue_time(redis_server, broker_at):
    import json

    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    broker_at(url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    with transaction.atomic():
        message = enqueue(tasks.record, 5, size="L")
    # published by the on-commit hook of this process
    message.refresh_from_db()
    assert message.published_at is not None
    [raw] = client.lrange("celery", 0, -1)
    headers = json.loads(raw)["headers"]
    assert headers["id"] == str(message.task_id)
    assert headers["task"] == "tests.record"
    assert headers["enqueued_at"] == pytest.approx(message.created_at.timestamp())


# ---------------------------------------------------------------------------- batches
def test_a_batch_that_fails_to_publish_leaves_every_row_for_the_relay(
    broker_at, django_capture_on_commit_callbacks
):
    # given a broker nobody listens on
    broker_at("redis://127.0.0.1:1/0")
    # when two tasks are enqueued together and published after the commit
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        messages = outbox.enqueue_many(tasks.record, [{"n": 1}, {"n": 2}])
    # then nothing was raised, both rows wait for the relay with the failure recorded
    assert len(messages) == 2
    assert outbox.pending_count() == 2
    assert sorted(OutboxMessage.objects.values_list("attempts", flat=True)) == [1, 1]


@pytest.mark.django_db(transaction=True)
def test_a_batch_publishes_the_rows_the_relay_does_not_hold(redis_server, broker_at):
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    broker_at(url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    # given two committed rows, the first held by a relay in another transaction
    with transaction.atomic():
        first, second = OutboxMessage.objects.bulk_create(
            OutboxMessage(task_name="tests.record", args=[i], kwargs={}, task_id=f"{i:032x}")
            for i in (1, 2)
        )
    held, release = threading.Event(), threading.Event()

    def relay_holding_the_first() -> None:
        try:
            with transaction.atomic():
                OutboxMessage.objects.select_for_update().get(pk=first.pk)
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    relay = threading.Thread(target=relay_holding_the_first)
    relay.start()
    try:
        assert held.wait(30)
        # when this process publishes both after its commit
        published = outbox.publish_after_commit(first.pk, second.pk)
    finally:
        release.set()
        relay.join(30)
    # then it published the second only, without waiting for the relay's lock
    assert published is False
    assert client.llen("celery") == 1
    assert set(OutboxMessage.objects.filter(published_at__isnull=True)) == {first}
