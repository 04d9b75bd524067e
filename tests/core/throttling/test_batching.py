"""Concurrent throttle calls of one process share a Redis round trip, with each call's own
exact reply (real Redis; the call in flight is held until the others have queued)."""

import threading
from collections.abc import Callable

import pytest
import redis

from core.throttling.rates import parse_rate
from core.throttling.store import Limit, RedisWindowStore
from tests.core.throttling.conftest import T0

THREADS = 8


@pytest.fixture
def store(redis_server) -> RedisWindowStore:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    return RedisWindowStore(client)


def hold_first_call_until_queued(
    store: RedisWindowStore, queued: int, after: Callable[[], object] = lambda: None
) -> None:
    """The first call in flight waits (bounded) until ``queued`` calls queue behind it, and
    runs ``after`` once it has its reply."""
    batcher = store.batcher
    real = batcher.script
    held = threading.Event()

    def first_waits(**kwargs):
        if not held.is_set():
            held.set()
            for _ in range(2000):
                with batcher._lock:
                    if len(batcher._queue) >= queued:
                        break
                threading.Event().wait(0.005)
            reply = real(**kwargs)
            after()
            return reply
        return real(**kwargs)

    batcher.script = first_waits  # type: ignore[assignment]
    batcher.script.sha = real.sha  # type: ignore[attr-defined]


def run_concurrently(store: RedisWindowStore, limits: list[Limit]) -> list:
    results: list = [None] * THREADS

    def one(index: int) -> None:
        try:
            results[index] = store.hit(limits, now=T0)
        except redis.RedisError as error:
            results[index] = error

    threads = [threading.Thread(target=one, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_queued_calls_go_in_one_round_trip_with_exact_replies(store):
    limits = [Limit(key="batch:exact", rate=parse_rate("5/minute"))]
    hold_first_call_until_queued(store, THREADS - 1)
    decisions = run_concurrently(store, limits)
    assert store.batcher.round_trips == 2  # the held call, then everything queued behind it
    assert store.batcher.calls == THREADS
    assert [d.allowed for d in decisions].count(True) == 5
    # Each allowed request saw its own count, as if it had been alone.
    assert sorted(d.states[0].count for d in decisions if d.allowed) == [1, 2, 3, 4, 5]
    assert all(d.states[0].count == 5 for d in decisions if not d.allowed)
    assert store.hit(limits, now=T0).states[0].count == 5  # nothing counted twice


def test_a_failing_pipeline_fails_every_queued_call(store, monkeypatch):
    limits = [Limit(key="batch:fail", rate=parse_rate("5/minute"))]
    hold_first_call_until_queued(store, THREADS - 1)

    def broken(self, raise_on_error=True):
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(redis.client.Pipeline, "execute", broken)
    results = run_concurrently(store, limits)
    errors = [r for r in results if isinstance(r, redis.ConnectionError)]
    assert len(errors) == THREADS - 1  # the held call went alone and got its answer
    assert store.batcher._busy is False and store.batcher._queue == []


def test_a_script_flushed_from_redis_is_loaded_again(store):
    limits = [Limit(key="batch:noscript", rate=parse_rate("5/minute"))]
    hold_first_call_until_queued(store, THREADS - 1, after=store.client.script_flush)
    decisions = run_concurrently(store, limits)
    assert [d.allowed for d in decisions].count(True) == 5
    assert store.batcher.round_trips == 2


def test_one_call_at_a_time_is_a_plain_call(store):
    limits = [Limit(key="batch:alone", rate=parse_rate("5/minute"))]
    for _ in range(3):
        store.hit(limits, now=T0)
    assert (store.batcher.round_trips, store.batcher.calls) == (3, 3)
