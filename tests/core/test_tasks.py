"""Housekeeping tasks of the traffic layer (run by beat): purges, the relay, metric samples."""

from __future__ import annotations

import datetime

import pytest
import redis
from django.utils import timezone

from core import tasks as housekeeping
from core.background import enqueue
from core.models import IdempotencyKey, OutboxMessage
from core.observability import metrics
from tests.conftest import make_customer
from tests.core.background import tasks

pytestmark = pytest.mark.django_db


def test_purge_deletes_expired_keys_and_old_published_outbox_rows(settings):
    user = make_customer()
    now = timezone.now()
    old = now - datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS + 1)
    for key, created in (("old", old), ("new", now)):
        record = IdempotencyKey.objects.create(
            user=user,
            scope="s",
            key=key,
            request_fingerprint="f",
            response_status=201,
            response_body="{}",
        )
        IdempotencyKey.objects.filter(pk=record.pk).update(created_at=created)
    long_ago = now - datetime.timedelta(days=settings.OUTBOX_RETENTION_DAYS + 1)
    for index, published in enumerate((long_ago, now, None)):
        OutboxMessage.objects.create(
            task_name="tests.record", task_id=f"{index:032x}", published_at=published
        )

    assert housekeeping.purge_expired.apply().get() == {
        "idempotency_keys": 1,
        "outbox_messages": 1,
    }
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    # the recent and the unpublished rows stay
    assert OutboxMessage.objects.count() == 2


def test_rewarm_reports_each_dataset():
    result = housekeeping.rewarm_caches.apply().get()
    assert "bookings.packages" in result and set(result.values()) <= {"ok"} | {
        v for v in result.values() if v != "ok"
    }


def test_sample_metrics_sets_queue_depth_and_outbox_backlog(
    redis_server,
    broker_at,
    django_capture_on_commit_callbacks,
):
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    broker_at(url)
    redis.Redis.from_url(url).flushdb()
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            enqueue(tasks.record, i)  # published: three messages wait on the broker
    OutboxMessage.objects.create(task_name="tests.record", task_id="f" * 32)  # one unpublished

    sampled = housekeeping.sample_metrics.apply().get()

    assert sampled["queue:celery"] == 3 and sampled["outbox_pending"] == 1
    assert metrics.task_queue_depth.labels(queue="celery")._value.get() == 3
    assert metrics.task_outbox_pending._value.get() == 1
    assert metrics.task_outbox_oldest_age._value.get() >= 0


def test_the_relay_task_publishes_what_is_pending(redis_server, broker_at):
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    broker_at(url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    OutboxMessage.objects.create(task_name="tests.record", args=[1], task_id="e" * 32)
    assert housekeeping.outbox_relay.apply().get() == 1
    assert client.llen("celery") == 1
