"""The L1 tier and version scopes: the documented staleness bound, read-your-writes for the
writing worker and pinned clients, bumps that survive a Redis outage, a flushed Redis."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from accounts.models import User
from core.cache import CacheKey, cache_many, cache_result, invalidate, local
from core.cache.keys import version_key
from core.cache.versions import store
from core.db import use_primary
from tests.conftest import make_customer

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True)]

SCOPE = "tests.hot_users"
computed: list[int] = []


def hot_key() -> CacheKey:
    return CacheKey("tests.hot_user_count", scopes=(SCOPE,))


@cache_result(ttl=300, key=hot_key, l1=True)
def hot_user_count() -> int:
    computed.append(1)
    return User.objects.count()


def day_key(day: int) -> CacheKey:
    return CacheKey("tests.users_by_day", parts=(day,), scopes=(SCOPE,))


days_computed: list[list[int]] = []


@cache_many(ttl=300, key=day_key, l1=True)
def users_by_day(days: list[int]) -> dict[int, int]:
    days_computed.append(sorted(days))
    count = User.objects.count()
    return {day: count for day in days}


@pytest.fixture(autouse=True)
def _uses_redis(redis_server):
    computed.clear()
    days_computed.clear()


def another_worker_invalidates(clock) -> None:
    """What a bump in another process leaves in Redis (this process's memory is untouched)."""
    caches["default"].set(version_key(SCOPE), ("from-another-worker", clock.now), 60)


def test_l1_hits_make_no_redis_call_within_the_bound(clock, redis_calls):
    # given
    assert hot_user_count() == 0
    redis_calls.reset()

    # when
    for _ in range(5):
        assert hot_user_count() == 0

    # then
    assert redis_calls.count == 0
    assert computed == [1]


def test_cache_many_l1_hits_make_no_redis_call_within_the_bound(clock, redis_calls):
    # given days computed once, then found in Redis by a worker without them in its L1
    assert users_by_day([1, 2, 3]) == {1: 0, 2: 0, 3: 0}
    local.tier.clear()
    assert users_by_day([1, 2, 3]) == {1: 0, 2: 0, 3: 0}
    redis_calls.reset()

    # when / then: no Redis call for what L1 holds
    for _ in range(5):
        assert users_by_day([1, 2, 3]) == {1: 0, 2: 0, 3: 0}
    assert redis_calls.count == 0
    assert days_computed == [[1, 2, 3]]

    # when / then: a new day among them is asked of Redis and computed alone
    assert users_by_day([2, 3, 4]) == {2: 0, 3: 0, 4: 0}
    assert days_computed == [[1, 2, 3], [4]]


def test_cache_many_l1_sees_another_workers_write_within_the_bound(clock, settings):
    # given days in this worker's L1, then a write elsewhere
    assert users_by_day([1, 2]) == {1: 0, 2: 0}
    make_customer()
    another_worker_invalidates(clock)

    # when: still inside the bound, then past it
    clock.advance(settings.CACHE_LOCAL_SECONDS - 0.1)
    within = users_by_day([1, 2])
    clock.advance(0.2)
    after = users_by_day([1, 2])

    # then: stale at most for the documented bound, as cache_result's L1
    assert (within, after) == ({1: 0, 2: 0}, {1: 1, 2: 1})


def test_another_workers_write_is_seen_within_cache_local_seconds(clock, settings):
    # given a value in this worker's L1, then a write elsewhere
    assert hot_user_count() == 0
    make_customer()
    another_worker_invalidates(clock)

    # when: still inside the bound
    clock.advance(settings.CACHE_LOCAL_SECONDS - 0.1)
    within = hot_user_count()

    # when: past it
    clock.advance(0.2)
    after = hot_user_count()

    # then: stale at most for the documented bound
    assert (within, after) == (0, 1)


def test_the_writing_worker_sees_its_write_at_once(clock):
    # given
    assert hot_user_count() == 0

    # when: a committed write in this process (autocommit: on_commit runs at once)
    make_customer()
    invalidate(SCOPE)

    # then
    assert hot_user_count() == 1


def test_a_client_pinned_to_the_primary_sees_another_workers_write_at_once(clock):
    # given
    assert hot_user_count() == 0
    make_customer()
    another_worker_invalidates(clock)

    # when: a read that must see the latest writes (pinned client, use_primary, a write before)
    with use_primary():
        pinned = hot_user_count()

    # then
    assert pinned == 1


def test_l1_is_bounded_in_bytes(settings):
    # given a small tier
    settings.CACHE_LOCAL_MAX_BYTES = 8 * 1024
    tier = local.LocalTier()
    entry = local.Entry(payload=b"x" * 1000, fingerprint="f", fresh_until=float("inf"))

    # when
    for n in range(50):
        tier.put(f"k{n}", entry)

    # then: the least recently used went out
    assert tier.size_bytes <= 8 * 1024
    assert len(tier) == 8
    assert tier.get("k49") is not None and tier.get("k0") is None


def test_a_bump_that_failed_during_an_outage_is_sent_before_the_next_read(
    clock, settings, redis_server
):
    # given a cached value, then Redis goes away while a write commits
    assert hot_user_count() == 0
    redis_server.stop()
    make_customer()
    invalidate(SCOPE)
    assert store.pending() == {SCOPE}

    # when: Redis is back and this worker next reads a version from it
    redis_server.start()
    clock.advance(settings.CACHE_LOCAL_SECONDS + 1)
    after = hot_user_count()

    # then: the bump reached Redis first, so the old value was not read back
    assert after == 1
    assert store.pending() == frozenset()
    token, _ = caches["default"].get(version_key(SCOPE))
    assert token == store.current([SCOPE])[0].token


def test_a_flushed_redis_never_brings_back_old_l1_entries(clock, settings):
    # given a value in L1, and a row added without any invalidation
    assert hot_user_count() == 0
    User.objects.bulk_create([User(email="bulk@example.com", name="Bulk")])

    # when: Redis loses everything (restart, flush), and the worker's trust expires
    caches["default"].clear()
    clock.advance(settings.CACHE_LOCAL_SECONDS + 1)

    # then: versions are new random tokens, never the old names
    assert hot_user_count() == 1
    assert computed == [1, 1]
