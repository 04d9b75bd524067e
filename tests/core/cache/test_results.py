"""cache_result against the real Redis and PostgreSQL: hits, invalidation on commit only,
bypass inside transactions, stale-while-revalidate and one computation per stampede."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import transaction

from accounts.models import User
from core.cache import CacheKey, cache_result, invalidate, invalidate_everything
from core.cache.backend import guarded
from core.cache.keys import lock_key, version_key
from core.cache.versions import store
from core.db.metrics import value
from core.observability import metrics
from tests.conftest import make_customer
from tests.core.cache.conftest import at_once

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True)]

SCOPE = "tests.users"
DATASET = "tests.user_count"
computed: list[bool] = []


def user_count_key(*, active: bool) -> CacheKey:
    return CacheKey(DATASET, parts=(active,), scopes=(SCOPE,))


@cache_result(ttl=60, key=user_count_key)
def user_count(*, active: bool) -> int:
    computed.append(active)
    return User.objects.filter(is_active=active).count()


@pytest.fixture(autouse=True)
def _uses_redis(redis_server):
    computed.clear()


def stored_name(**kwargs: bool) -> str:
    key = user_count_key(**kwargs)
    return key.render([version.token for version in store.current(key.all_scopes)])


def test_a_second_call_is_a_hit_without_a_query(django_assert_num_queries):
    # given
    make_customer()
    hits = value(metrics.cache_hits, dataset=DATASET)
    misses = value(metrics.cache_misses, dataset=DATASET)

    # when
    first = user_count(active=True)
    with django_assert_num_queries(0):
        second = user_count(active=True)

    # then
    assert first == second == 1
    assert computed == [True]
    assert value(metrics.cache_hits, dataset=DATASET) - hits == 1
    assert value(metrics.cache_misses, dataset=DATASET) - misses == 1


def test_arguments_are_part_of_the_key():
    assert (user_count(active=True), user_count(active=False)) == (0, 0)
    assert computed == [True, False]


def test_a_committed_write_is_seen_by_the_next_read():
    # given
    assert user_count(active=True) == 0

    # when: a write and its invalidation commit together
    with transaction.atomic():
        make_customer()
        invalidate(SCOPE)

    # then
    assert user_count(active=True) == 1


def test_a_rolled_back_write_invalidates_nothing():
    # given
    assert user_count(active=True) == 0
    before = caches["default"].get(version_key(SCOPE))

    # when
    with pytest.raises(RuntimeError), transaction.atomic():
        make_customer()
        invalidate(SCOPE)
        raise RuntimeError("rolled back")

    # then: same version, and the cached value is still served
    assert caches["default"].get(version_key(SCOPE)) == before
    assert user_count(active=True) == 0
    assert computed == [True]


def test_inside_a_transaction_the_cache_is_neither_read_nor_filled():
    # given a cached value
    assert user_count(active=True) == 0

    # when: a transaction writes and reads
    with transaction.atomic():
        make_customer()
        inside = user_count(active=True)
        transaction.set_rollback(True)

    # then: it saw its own write, and nothing it read was stored
    assert inside == 1
    assert user_count(active=True) == 0
    assert computed == [True, True]


def test_a_stale_entry_is_served_while_another_caller_refreshes_it(clock):
    # given an entry past its ttl, and another caller holding the refresh lock
    assert user_count(active=True) == 0
    make_customer()  # no invalidation: only the ttl can bring this in
    clock.advance(61)
    name = stored_name(active=True)
    assert guarded.call("add", lock_key(name), "someone-else", 10)

    # when
    served = user_count(active=True)

    # then: the stale value, at once, without computing
    assert served == 0
    assert computed == [True]

    # when: the lock is free again
    guarded.call("delete", lock_key(name))

    # then: the next caller refreshes it
    assert user_count(active=True) == 1
    assert computed == [True, True]


def test_a_waiter_computes_itself_when_the_filler_never_delivers(settings):
    # given a lock nobody will release in time
    settings.CACHE_LOCK_WAIT_SECONDS = 0.05
    assert guarded.call("add", lock_key(stored_name(active=True)), "stuck", 10)

    # when / then: bounded wait, then the value from the database
    assert user_count(active=True) == 0
    assert computed == [True]


def test_50_concurrent_calls_on_a_cold_key_compute_once():
    # given
    for n in range(3):
        make_customer(email=f"guest{n}@example.com")

    # when
    answers = at_once(50, lambda _: user_count(active=True))

    # then
    assert answers == [3] * 50
    assert computed == [True]


def test_invalidate_everything_reaches_every_dataset():
    # given
    assert user_count(active=True) == 0
    make_customer()

    # when (what seed_demo does after its bulk inserts, which send no signals)
    invalidate_everything()

    # then
    assert user_count(active=True) == 1


def test_a_value_pickled_by_other_code_is_replaced_not_a_500():
    # given an entry under the current name that this code cannot unpickle
    assert user_count(active=True) == 0
    guarded.call("set", stored_name(active=True), (b"not a pickle", "f", 9e18), 60)

    # when / then: recomputed and stored again
    assert user_count(active=True) == 0
    assert user_count(active=True) == 0
    assert computed == [True, True]
