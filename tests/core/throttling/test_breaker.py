"""The throttle's circuit breaker after an outage: every Redis call it lets through reports
back, so its first call after the cool-down (the probe) closes it or opens it again, whichever
kind of call that is. A probe that reported nothing left the breaker half-open, refusing every
closed scope with 503 until a restart (a login's flag or refund as the first call after a
Redis failover did that)."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import redis

from core.throttling import limiter as limiter_module
from core.throttling.limiter import Limit, Outcome, ScopedLimit
from core.throttling.rates import Rate

pytestmark = [pytest.mark.servers]


@pytest.fixture
def after_outage(throttling, monkeypatch):
    """The limiter with its breaker opened by failures and its cool-down over."""
    limiter = limiter_module.get_limiter()
    for _ in range(limiter.breaker.failure_threshold):
        limiter.breaker.record_failure()
    assert limiter.breaker.state == "open"
    monkeypatch.setattr(limiter.breaker, "timer", lambda: limiter.breaker._opened_at + 60)
    return limiter


def probe(limiter: limiter_module.Limiter, kind: str) -> None:
    limit = Limit(key="tests:breaker-probe", rate=Rate(limit=5, period=60))
    if kind == "hit":
        limiter.hit([ScopedLimit(scope="login_ip", limit=limit)])
    elif kind == "refund":
        charged = (ScopedLimit(scope="login_email", limit=limit),)
        outcome = Outcome(allowed=True, tightest=None, retry_after=0, charged=charged, at_ms=1)
        limiter.refund(outcome, ["login_email"])
    elif kind == "mark":
        limiter.mark("tests:breaker-flag", ttl_seconds=60)
    else:
        limiter.marked("tests:breaker-flag", ttl_seconds=60)


@pytest.mark.parametrize("kind", ["hit", "refund", "mark", "marked"])
def test_any_first_call_after_the_cool_down_closes_the_breaker_when_redis_is_back(
    after_outage, kind
):
    # when: Redis answers the probe
    probe(after_outage, kind)

    # then
    assert after_outage.breaker.state == "closed"


@pytest.mark.parametrize("kind", ["hit", "refund", "mark", "marked"])
def test_a_failed_probe_of_any_kind_opens_the_breaker_again(after_outage, kind, monkeypatch):
    # given: Redis still unreachable
    def down(*args, **kwargs):
        raise redis.ConnectionError("still down")

    shared = after_outage.shared
    for name in ("hit", "refund", "mark", "marked"):
        monkeypatch.setattr(shared, name, down)

    # when: the probe fails (a sensitive scope's hit answers 503 meanwhile)
    with pytest.raises(limiter_module.ThrottleUnavailable) if kind == "hit" else nullcontext():
        probe(after_outage, kind)

    # then: open for another cool-down, not half-open for good
    assert after_outage.breaker.state == "open"


def test_a_probe_that_fails_for_another_reason_gives_the_probe_back(after_outage, monkeypatch):
    # given: the store fails with something that is not Redis's answer (a bug, say)
    def broken(*args, **kwargs):
        raise RuntimeError("not Redis")

    monkeypatch.setattr(after_outage.shared, "mark", broken)

    # when
    with pytest.raises(RuntimeError):
        probe(after_outage, "mark")

    # then: neither closed on no evidence nor half-open for good; the next caller probes
    assert after_outage.breaker.state == "open"
    assert after_outage.breaker.allow() is True
