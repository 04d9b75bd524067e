"""Celery and email settings come from the environment: eager without a broker, the Redis or
RabbitMQ broker by URL, SMTP when EMAIL_HOST is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.conf import settings
from celery import current_app
from kombu import Connection
conf = current_app.conf
print(json.dumps({
    "eager": conf.task_always_eager,
    "broker": conf.broker_url,
    "transport": Connection(conf.broker_url).transport_cls if conf.broker_url else None,
    "visibility_timeout": conf.broker_transport_options.get("visibility_timeout"),
    "email": settings.EMAIL_BACKEND,
    "tls": settings.EMAIL_USE_TLS,
    "acks_late_default": conf.task_acks_late,
    "prefetch": conf.worker_prefetch_multiplier,
}))
"""
CLEAN = (
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_HOST",
    "EMAIL_BACKEND",
    "CELERY_TASK_ALWAYS_EAGER",
)


def settings_with(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in CLEAN}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings.local", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_embedded_default_runs_tasks_in_process_and_prints_emails():
    found = settings_with()
    assert found["eager"] is True and found["broker"] is None
    assert found["email"] == "django.core.mail.backends.console.EmailBackend"


def test_redis_url_is_the_broker_by_default_with_a_visibility_timeout():
    found = settings_with(REDIS_URL="redis://cache:6379/0")
    assert found["eager"] is False
    assert found["broker"] == "redis://cache:6379/0" and found["transport"] == "redis"
    assert found["visibility_timeout"] == 3600
    assert found["prefetch"] == 1


def test_rabbitmq_by_url_and_smtp_by_host():
    found = settings_with(
        REDIS_URL="redis://cache:6379/0",
        CELERY_BROKER_URL="amqp://app:pw@rabbit:5672/myhibachi",
        EMAIL_HOST="smtp.example.com",
    )
    assert found["transport"] == "amqp" and found["visibility_timeout"] is None
    assert found["email"] == "django.core.mail.backends.smtp.EmailBackend" and found["tls"] is True
