"""``manage.py tasks_status``: queue depths, live workers, the outbox, failed tasks."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import redis
from django.core.management import CommandError, call_command

from core.background import enqueue
from core.background.status import redact, tasks_status
from core.models import FailedTask
from tests.core.background import tasks

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("tasks_status", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc.returncode
    return out.getvalue(), 0


def test_embedded_default_reports_eager_mode_and_dead_letters():
    FailedTask.objects.create(task_name="tests.broken", task_id="1", exception="KeyError: 7")
    output, code = run()
    assert code == 0
    assert "eager" in output
    assert "failed tasks   1 not retried" in output and "KeyError: 7" in output
    data = json.loads(run("--json")[0])
    assert data["eager"] is True and data["failed_tasks"]["open"] == 1


def test_a_broker_with_messages_and_no_worker(
    redis_server,
    broker_at,
    django_capture_on_commit_callbacks,
):
    # given two messages waiting on a real broker and no worker running
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    broker_at(url)
    redis.Redis.from_url(url).flushdb()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(tasks.record, 1)
        enqueue(tasks.record, 2)
    # then the report shows the depth and that nobody consumes: exit status 1
    output, code = run("--timeout", "0.3")
    assert code == 1
    assert "celery               2 waiting" in output
    assert "0 alive: NONE answered" in output
    status = tasks_status(timeout=0.3)
    assert [(q.name, q.depth) for q in status.queues] == [("celery", 2)]
    assert status.outbox_pending == 0 and status.workers == []


def test_a_broker_that_is_down(broker_at):
    broker_at("redis://:secret@127.0.0.1:1/0")
    enqueue(tasks.record, 1)  # stays in the outbox
    output, code = run("--timeout", "0.3")
    assert code == 1
    assert "redis://:***@127.0.0.1:1/0" in output and "secret" not in output
    assert "?" in output  # the depth is unknown, and says why
    assert "outbox         1 unpublished" in output


def test_redact_hides_only_the_password():
    assert redact("amqp://user:pw@rabbit:5672/vhost") == "amqp://user:***@rabbit:5672/vhost"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
