"""REDIS_SENTINELS switches every Redis user to the master Sentinel names (config/redis.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.redis import parse_sentinels, through_sentinel

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.conf import settings
from celery import current_app
from kombu import Connection
conf = current_app.conf
options = settings.CACHES["default"]["OPTIONS"]
print(json.dumps({
    "location": settings.CACHES["default"]["LOCATION"],
    "factory": options.get("CONNECTION_FACTORY"),
    "client": options.get("CLIENT_CLASS"),
    "sentinels": options.get("SENTINELS"),
    "throttle_url": settings.THROTTLE_REDIS_URL,
    "pin_replicas": settings.REPLICA_PIN_REDIS_REPLICAS,
    "broker": conf.broker_url,
    "transport": Connection(conf.broker_url).transport_cls if conf.broker_url else None,
    "master_name": conf.broker_transport_options.get("master_name"),
}))
"""
CLEAN = ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "CELERY_BROKER_URL")


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


def test_sentinels_configure_the_cache_throttles_pins_and_broker():
    found = settings_with(
        REDIS_SENTINELS="s1:26379,s2:26379,s3:26379",
        REDIS_SENTINEL_MASTER="prod-cache",
        CELERY_BROKER_SENTINEL_MASTER="prod-broker",
    )
    # django-redis asks the sentinels for the master; reads stay on the master (no
    # SentinelClient: its replica reads would miss version keys and pins just written)
    assert found["location"] == "redis://prod-cache/0"
    assert found["factory"] == "django_redis.pool.SentinelConnectionFactory"
    assert found["client"] is None
    assert found["sentinels"] == [["s1", 26379], ["s2", 26379], ["s3", 26379]]
    assert found["throttle_url"] == "redis://prod-cache/0"
    assert found["pin_replicas"] == 1
    # Celery: kombu's sentinel transport with the broker's own master
    assert found["broker"] == "sentinel://s1:26379/0;sentinel://s2:26379/0;sentinel://s3:26379/0"
    assert found["transport"] == "sentinel"
    assert found["master_name"] == "prod-broker"


def test_a_plain_redis_url_still_works():
    found = settings_with(REDIS_URL="redis://cache:6379/0")
    assert found["location"] == "redis://cache:6379/0" and found["factory"] is None
    assert found["broker"] == "redis://cache:6379/0" and found["master_name"] is None
    assert found["pin_replicas"] == 0


def test_sentinel_addresses_are_parsed_strictly():
    assert parse_sentinels(" a:1, [::1]:26379 ,") == [("a", 1), ("::1", 26379)]
    assert parse_sentinels(None) == []
    with pytest.raises(ImproperlyConfigured):
        parse_sentinels("a")
    assert through_sentinel("redis://Prod/0", "prod", [("a", 1)])
    assert not through_sentinel("redis://cache:6379/0", "prod", [("a", 1)])
    assert not through_sentinel("redis://prod/0", "prod", [])
