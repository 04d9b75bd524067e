"""The production cache configuration against the real Redis: hiredis, compression of large
values only, the key prefix per environment; and the breaker's contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings

from core.cache.backend import CacheUnavailable, GuardedCache
from core.circuit_breaker import CLOSED, OPEN

ROOT = Path(__file__).resolve().parents[3]


def production_url(redis_server) -> str:
    # Database 1: django-redis keeps one connection pool per URL for the whole process, and
    # the suite's pool for database 0 was made with the test harness's options.
    return redis_server.url.rsplit("/", 1)[0] + "/1"


@pytest.fixture
def production_cache(settings, redis_server):
    config = {
        "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
        "LOCATION": production_url(redis_server),
        "KEY_PREFIX": "test-production-options",
        "OPTIONS": settings.CACHE_REDIS_OPTIONS,
    }
    with override_settings(CACHES={"default": config}):
        yield caches["default"]
        caches["default"].clear()


def test_replies_are_parsed_by_hiredis(production_cache):
    pool = production_cache.client.get_client().connection_pool
    assert pool.connection_kwargs["parser_class"].__name__ == "_HiredisParser"
    assert pool.connection_kwargs["socket_timeout"] == 0.25
    assert pool.max_connections == 50


def test_large_values_are_compressed_and_small_ones_are_not(production_cache, redis_server):
    # when
    production_cache.set("big", "grill " * 2000)
    production_cache.set("small", "grill")

    # then: the stored bytes, read without django-redis
    raw = redis.Redis.from_url(production_url(redis_server))
    big = raw.get(production_cache.make_key("big"))
    small = raw.get(production_cache.make_key("small"))
    assert zlib.decompress(big)
    assert len(big) < 2000
    with pytest.raises(zlib.error):
        zlib.decompress(small)
    assert production_cache.get("big") == "grill " * 2000
    assert production_cache.get("small") == "grill"


def test_the_key_prefix_names_the_environment():
    # given the settings a deploy would read
    env = {
        **os.environ,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "DEPLOY_ENVIRONMENT": "staging",
        "RELEASE": "2026.11.2",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
    }
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.CACHES['default']['KEY_PREFIX'], settings.RELEASE]))"
    )

    # when
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    # then
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["myhibachi:staging", "2026.11.2"]


class FailingCache:
    """A cache backend that raises like django-redis does while Redis is down."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = True

    def get(self, key: str) -> str:
        self.calls += 1
        if self.fail:
            raise ConnectionError("Redis is down")
        return "value"


class GuardedFailingCache(GuardedCache):
    backend = FailingCache()

    @property
    def cache(self):  # type: ignore[override]
        return self.backend


def test_the_breaker_opens_after_consecutive_failures_and_closes_by_itself(settings):
    # given
    settings.CACHE_BREAKER_FAILURES = 3
    settings.CACHE_BREAKER_COOLDOWN_SECONDS = 5
    now = [0.0]
    guard = GuardedFailingCache()
    guard.backend = backend = FailingCache()
    guard.breaker.timer = lambda: now[0]  # type: ignore[method-assign]

    # when: three failures
    for _ in range(3):
        with pytest.raises(CacheUnavailable):
            guard.call("get", "k")

    # then: open; calls fail at once without reaching the backend
    assert guard.breaker.state == OPEN
    with pytest.raises(CacheUnavailable) as skipped:
        guard.call("get", "k")
    assert skipped.value.skipped
    assert backend.calls == 3

    # when: the cool-down passes and the backend works again
    now[0] = 5.0
    backend.fail = False

    # then: one probe closes it
    assert guard.call("get", "k") == "value"
    assert guard.breaker.state == CLOSED
