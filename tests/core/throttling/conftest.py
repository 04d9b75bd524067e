"""Throttling on, counting in the session's real Redis, with an injected clock."""

import itertools

import pytest
import redis
from prometheus_client import REGISTRY

from core.throttling import limiter as limiter_module
from core.throttling.throttles import RateLimitThrottle

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(RateLimitThrottle, "timer", clock)
    monkeypatch.setattr(RateLimitThrottle, "jitter", staticmethod(lambda low, high: 0))
    return clock


@pytest.fixture
def throttling(settings, redis_server, clock):
    """Throttling as in production: counters in Redis, a fresh limiter for this test."""
    settings.THROTTLE_ENABLED = True
    settings.THROTTLE_REDIS_URL = redis_server.url
    redis.Redis.from_url(redis_server.url).flushdb()
    limiter_module._limiters.clear()
    yield settings
    limiter_module._limiters.clear()


_ips = (f"198.51.100.{n}" for n in itertools.count(1))


@pytest.fixture
def fresh_ip() -> str:
    return next(_ips)


def decisions(scope: str, decision: str) -> float:
    value = REGISTRY.get_sample_value(
        "throttle_decisions_total", {"scope": scope, "decision": decision}
    )
    return value or 0.0
