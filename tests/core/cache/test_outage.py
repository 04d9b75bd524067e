"""Redis stopped, or frozen so that every call hangs, in the middle of serving: every endpoint
keeps answering 200 from the database; once the breaker is open no request calls Redis until
the cool-down ends; when Redis is back, hits resume without a restart."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import pytest
from django.test import Client

from core.cache.backend import guarded
from core.circuit_breaker import CLOSED, OPEN
from core.db.metrics import value
from core.observability import metrics
from devstack import RedisServer
from tests.core.cache.conftest import PACKAGES, Catalogue, public_urls

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def redis_stopped(server: RedisServer) -> Iterator[None]:
    server.stop()
    try:
        yield
    finally:
        server.start()


@contextlib.contextmanager
def redis_frozen(server: RedisServer) -> Iterator[None]:
    """The process stays up with its port open, but answers nothing: calls hang until their
    socket timeout."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


OUTAGES = {"stopped": redis_stopped, "frozen": redis_frozen}


@pytest.mark.parametrize("outage", sorted(OUTAGES))
def test_an_outage_is_served_from_the_database_then_costs_no_redis_call(
    catalogue: Catalogue, redis_server, clock, redis_calls, settings, outage: str
):
    # given: every public endpoint answered once, so the cache is warm
    urls = public_urls(catalogue)
    warm = {url: Client().get(url).json() for url in urls}
    # past the local trust window: lookups must ask Redis again
    clock.advance(settings.CACHE_LOCAL_SECONDS + 1)

    with OUTAGES[outage](redis_server):
        # when: Redis fails under the first requests
        during = {url: Client().get(url) for url in urls}

        # then: same answers, from the database, and the breaker is open
        assert {url: r.status_code for url, r in during.items()} == dict.fromkeys(urls, 200)
        assert {url: r.json() for url, r in during.items()} == warm
        assert guarded.breaker.state == OPEN
        assert value(metrics.cache_breaker_open) == 1
        assert Client().get("/readyz").json()["checks"]["cache_breaker"]["status"] == "down"

        # when: more requests while the breaker is open
        redis_calls.reset()
        for _ in range(3):
            assert [Client().get(url).status_code for url in urls] == [200] * len(urls)

        # then: not a single call to Redis
        assert redis_calls.count == 0

    # when: Redis is back and the cool-down has passed
    clock.advance(settings.CACHE_BREAKER_COOLDOWN_SECONDS + 1)
    hits = value(metrics.cache_hits, dataset="bookings.packages")
    answers = [Client().get(PACKAGES).status_code for _ in range(3)]

    # then: the breaker closed by itself and the cache serves hits again
    assert answers == [200, 200, 200]
    assert guarded.breaker.state == CLOSED
    assert value(metrics.cache_breaker_open) == 0
    assert value(metrics.cache_hits, dataset="bookings.packages") > hits
