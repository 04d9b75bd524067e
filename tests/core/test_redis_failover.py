"""Redis failover through Sentinel, in short (docs/redis-failover.md; `make chaos` has the long
one): the Redis master is SIGKILLed while requests flow, the sentinels promote its replica, and
the app follows without a restart.

Which requests may fail during the switch, by the circuit breakers' policies: only those in a
throttle scope that fails closed (here the login's ``login_ip``), with ``503
throttle_unavailable``, from the kill until the throttle breaker's first probe after the
promotion. Cached reads fall back to the database, read-your-writes pins read as "unknown"
(the primary), open throttle scopes count per process: none of them fails.

Every loop is bounded in count and time; nothing asserts a duration.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from django.core.cache import caches
from django_redis.pool import ConnectionFactory

from config.redis import sentinel_cache_options, sentinel_url
from core import redis_connections
from core.cache.backend import CacheUnavailable, guarded
from core.db import metrics
from core.db.pins import store
from core.throttling import limiter as limiter_module
from core.throttling.throttles import RateLimitThrottle
from devstack import SentinelRedis
from tests.conftest import make_customer
from tests.core.db.conftest import CookielessClient, aged_token, counters, token_client

pytestmark = [
    pytest.mark.servers,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.urls("tests.core.db.urls"),
]

__all__ = ["counters"]  # the fixture, shared with tests/core/db

PROBE = "/test/replica-probe/"
PACKAGES = "/api/v1/packages/"
LOGIN = "/api/v1/auth/token/"
LOGIN_IP = "203.0.113.77"
LOGIN_IP_LIMIT = 20  # login_ip: 20/minute (config/settings/base.py)
# Bounds on the polling while waiting for the promotion and recovery. The time is the real
# bound: a step is three requests and a 0.05 s pause, so 40 s is at most 800 steps (400 steps
# ran out in 32 s once requests got faster, before a slow promotion's breaker closed).
MAX_STEPS = 800
MAX_SECONDS = 40


@pytest.fixture(scope="module")
def sentinel_redis():
    with SentinelRedis(down_after_ms=1000, failover_timeout_ms=5000) as group:
        yield group


@pytest.fixture
def through_sentinel(settings, sentinel_redis, monkeypatch):
    """Cache, pins and throttle counters on the master the sentinels name, as in production."""
    sentinels = sentinel_redis.sentinel_addresses
    url = sentinel_url(sentinel_redis.master_name)
    settings.REDIS_SENTINELS = sentinels
    settings.REDIS_SENTINEL_MASTER = sentinel_redis.master_name
    settings.REDIS_URL = url
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            **settings.CACHES["default"],
            "LOCATION": url,
            "OPTIONS": sentinel_cache_options(settings.CACHE_REDIS_OPTIONS, sentinels, 0.25),
        },
    }
    settings.THROTTLE_ENABLED = True
    settings.THROTTLE_REDIS_URL = url
    # The test's own polling (two reads a step, up to MAX_STEPS steps, all from one address)
    # must stay under the read limits whichever store counts it: a slow promotion once took
    # 300 steps, and user_ip's 600/minute answered the reads 429.
    settings.THROTTLE_SCOPES = {
        **settings.THROTTLE_SCOPES,
        **{
            scope: {**settings.THROTTLE_SCOPES[scope], "rates": ["100000/minute"]}
            for scope in ("anon", "user", "user_ip")
        },
    }
    settings.REPLICA_PIN_REDIS_REPLICAS = 1
    # The database replica's paused replay must not take it out of service (the lag budget):
    # then only the pin keeps the writer off it. And the pin must outlive the failover and the
    # breakers' cool-down (production's window is a few seconds; docs/redis-failover.md).
    settings.REPLICA_MAX_LAG_SECONDS = 3600
    settings.REPLICA_PIN_SECONDS = 120
    # One throttle window for the whole test: the login limit is counted across the failover.
    monkeypatch.setattr(RateLimitThrottle, "timer", lambda: 1_900_000_000.0)
    monkeypatch.setattr(RateLimitThrottle, "jitter", staticmethod(lambda low, high: 0))
    fresh_state()
    yield sentinel_redis
    fresh_state()
    ConnectionFactory._pools.pop(url, None)


def fresh_state() -> None:
    limiter_module._limiters.clear()
    redis_connections._sentinels.clear()
    guarded.reset()
    store.reset()


def login(ip: str = LOGIN_IP) -> int:
    """A login with a wrong password (400), counted against ``login_ip`` like any attempt."""
    body = {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": "wrong-password"}
    return CookielessClient().post(LOGIN, body, format="json", REMOTE_ADDR=ip).status_code


def cached_after_cool_down(key: str) -> object:
    """The guarded cache's answer once its breaker lets a call through (bounded wait)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return guarded.call("get", key)
        except CacheUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def code(response) -> str:  # type: ignore[no-untyped-def]
    return f"{response.status_code}:{(response.json() or {}).get('code', '')}"


def test_a_pin_waits_for_the_redis_replica_and_is_counted_when_it_is_not_there(
    through_sentinel, counters
):
    group = through_sentinel
    # given the replica in sync: a pin is acknowledged by it before the request answers
    store.pin_user(4242, 60)
    assert counters(metrics.PINS, "user_not_replicated") == 0
    key = caches["default"].make_key("db-pin:user:4242")
    assert group.replica().client().get(key) is not None  # already on the replica
    # when the replica is down, a pin is still written (on the master, after the 50 ms wait)
    replica = group.replica()
    replica.stop()
    try:
        store.pin_user(4243, 60)
        # then it counts as not replicated (the window docs/redis-failover.md describes)
        assert counters(metrics.PINS, "user_not_replicated") == 1
        assert store.user_pinned(4243) is True
    finally:
        replica.start()
        group._wait(group._replica_in_sync_with(replica), 30, "the replica did not resync")


def test_killing_the_redis_master_fails_only_closed_throttle_scopes_until_promotion(
    pg_cluster, through_sentinel, counters
):
    group = through_sentinel
    # given: a token client that just wrote (its pin is in Redis) while the replica lags
    customer = make_customer(email=f"writer-{uuid.uuid4().hex[:6]}@example.com")
    writer = token_client(aged_token(customer).key)
    reader = token_client(aged_token(make_customer(email="reader@example.com")).key)
    pg_cluster.wait_for_replay()
    pg_cluster.pause_replay(1)
    try:
        assert writer.post(PROBE, {"name": "Renamed"}, format="json").status_code == 204
        # the pin reached the Redis replica before the write was answered (WAIT)
        assert counters(metrics.PINS, "user") == 1
        assert counters(metrics.PINS, "user_not_replicated") == 0
        # ... and half the login budget is spent, counted in Redis
        before = [login() for _ in range(LOGIN_IP_LIMIT // 2)]
        assert before == [400] * (LOGIN_IP_LIMIT // 2)
        assert reader.get(PACKAGES).status_code == 200
        old_port = group.master_port()

        # when: the master is SIGKILLed, and requests keep coming until the app has recovered
        old = group.kill_master()
        seen: Counter[str] = Counter()
        logins: list[int] = []
        promoted_at_step = None
        deadline = time.monotonic() + MAX_SECONDS
        for step in range(MAX_STEPS):
            assert time.monotonic() < deadline, (seen, logins)
            seen["packages " + code(reader.get(PACKAGES))] += 1
            probe = writer.get(PROBE)
            seen["pinned read " + code(probe)] += 1
            assert probe.json()["name"] == "Renamed"  # never a stale read
            status = login()
            logins.append(status)
            if promoted_at_step is None and group.master_port() not in (None, old_port):
                promoted_at_step = step
            if promoted_at_step is not None and status != 503:
                break  # the throttle breaker probed the new master and closed
            time.sleep(0.05)
        new_master = group.master()

        # then: the replica was promoted, and the app follows it without a restart
        assert promoted_at_step is not None
        assert new_master is not old and new_master.port != old_port
        # reads never failed; only the closed login scope answered 503, and only until recovery
        assert set(seen) == {"packages 200:", "pinned read 200:"}, seen
        assert set(logins[:-1]) <= {503, 400}, logins
        assert logins[-1] == 400, (promoted_at_step, len(logins), logins[-5:])

        # the pin written before the kill is honoured after it: the writer still reads its
        # own write from the primary although the database replica has not replayed it. (The
        # pin store's breaker may still be cooling down from the outage, its reads sent to the
        # primary as "client_pin_unknown", until its probe reaches the new master.)
        deadline = time.monotonic() + 15
        while True:
            counters.reset()
            after = writer.get(PROBE)
            assert after.json()["name"] == "Renamed"
            if not counters(metrics.PINNED_READS, "client_pin_unknown"):
                break
            assert time.monotonic() < deadline, "the pin store's breaker stayed open"
            time.sleep(0.1)
        assert counters(metrics.PINNED_READS, "client_user") >= 1
        assert store.user_pinned(customer.pk) is True

        # throttles continue on the new master: the counts from before the kill are there, so
        # the login limit allows exactly its 20 in the window, across the failover
        allowed = before.count(400) + logins.count(400)
        rest = [login() for _ in range(LOGIN_IP_LIMIT + 5 - allowed)]
        assert rest.count(400) == LOGIN_IP_LIMIT - allowed
        assert rest[LOGIN_IP_LIMIT - allowed :] == [429] * 5
        assert new_master.client().keys("*throttle:login_ip*")

        # the cache continues on the new master too: once the cache breaker's cool-down is
        # over, its probe closes it
        caches["default"].set("failover-check", "after", 60)
        assert new_master.client().keys("*failover-check*")
        assert cached_after_cool_down("failover-check") == "after"
        assert guarded.breaker.state == "closed"
    finally:
        pg_cluster.resume_replay(1)
    # and the old master rejoins as a replica of the new one
    group.rejoin(old)
    assert old.client().info("replication")["role"] == "slave"


def test_celery_publishes_through_the_sentinels_to_whichever_server_is_master(sentinel_redis):
    # given: the group after the failover above (the master is no longer the first server)
    from kombu import Connection

    from config.redis import celery_sentinel_broker_url
    from config.settings.base import broker_transport_options

    url = celery_sentinel_broker_url(sentinel_redis.sentinel_addresses)
    options = {**broker_transport_options(url), "master_name": sentinel_redis.master_name}
    name = f"failover-{uuid.uuid4().hex[:6]}"
    # when: a message is published through kombu's sentinel transport
    with Connection(url, transport_options=options) as connection:
        queue = connection.SimpleQueue(name)
        queue.put({"booking": 1})
        # then: it is on the master the sentinels name now (kombu keeps a queue as a list)
        assert sentinel_redis.master().client().llen(name) == 1
        # and a consumer gets it from there
        message = queue.get(timeout=5)
        message.ack()
        queue.close()
    assert message.payload == {"booking": 1}
