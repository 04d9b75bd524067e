"""The counting algorithm, identical in the Redis script and the in-process fallback."""

import pytest
import redis

from core.throttling.rates import parse_rate
from core.throttling.store import Limit, MemoryWindowStore, RedisWindowStore

T0 = 1_800_000_000.0  # an injected clock: no test sleeps


@pytest.fixture(params=["redis", "memory"])
def store(request):
    if request.param == "memory":
        return MemoryWindowStore()
    server = request.getfixturevalue("redis_server")
    client = redis.Redis.from_url(server.url)
    client.flushdb()
    return RedisWindowStore(client)


def limit(key: str, rate: str) -> Limit:
    return Limit(key=key, rate=parse_rate(rate))


def test_allows_exactly_the_limit(store):
    limits = [limit("a", "5/minute")]
    allowed = [store.hit(limits, now=T0 + i * 0.1).allowed for i in range(12)]
    assert allowed == [True] * 5 + [False] * 7


def test_window_slides(store):
    limits = [limit("a", "3/minute")]
    for second in (0, 10, 20):
        assert store.hit(limits, now=T0 + second).allowed
    assert not store.hit(limits, now=T0 + 59).allowed
    # the request at T0 leaves the window after 60 s: exactly one more fits
    assert store.hit(limits, now=T0 + 60).allowed
    assert not store.hit(limits, now=T0 + 61).allowed


def test_retry_after_and_reset_are_exact(store):
    limits = [limit("a", "2/minute")]
    first = store.hit(limits, now=T0)
    assert (first.states[0].count, first.states[0].remaining) == (1, 1)
    assert first.states[0].reset == 60
    store.hit(limits, now=T0 + 15)
    refused = store.hit(limits, now=T0 + 20)
    state = refused.states[0]
    assert not refused.allowed
    assert state.remaining == 0
    assert state.retry_after == 40  # when the T0 request leaves the window
    assert state.reset == 40


def test_a_refusal_by_one_limit_counts_in_none(store):
    # given a burst limit and a sustained limit on the same client
    burst, sustained = limit("burst", "2/minute"), limit("sustained", "5/hour")
    for i in range(10):
        store.hit([burst, sustained], now=T0 + i)
    # then only the 2 allowed requests count against the sustained quota
    later = store.hit([sustained], now=T0 + 120)
    assert later.states[0].count == 3
    assert later.states[0].remaining == 2


def test_each_limit_reports_its_own_state(store):
    decision = store.hit([limit("m", "10/minute"), limit("h", "100/hour")], now=T0)
    assert [s.remaining for s in decision.states] == [9, 99]
    assert [s.limit.rate.period for s in decision.states] == [60, 3600]


def test_keys_expire_from_redis(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    RedisWindowStore(client).hit([limit("k", "5/minute")])
    ttl_ms = client.pttl("k")
    assert 60_000 <= ttl_ms <= 61_000


def test_old_buckets_are_deleted_as_the_window_slides(redis_server):
    # given a steady stream of requests for two and a half minutes
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    store = RedisWindowStore(client)
    for second in range(150):
        store.hit([limit("k", "1000/minute")], now=T0 + second)
    # then the hash holds the last minute's buckets only (one a second)
    assert client.hlen("k") == 60


def test_the_redis_script_and_the_in_process_fallback_agree(redis_server):
    # given the same irregular sequence of requests against both stores, past their limits
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    shared, memory = RedisWindowStore(client), MemoryWindowStore()
    limits = [limit("burst", "7/minute"), limit("sustained", "20/hour")]
    now = T0
    for step in range(400):
        now += (step * 7919 % 13) * 0.7  # 0 to 8.4 s apart, deterministic
        # then every decision and every limit's state is the same
        assert shared.hit(limits, now=now) == memory.hit(limits, now=now), step


def test_a_refund_gives_back_one_request(store):
    # given a full window
    limits = [limit("a", "5/minute")]
    hits = [store.hit(limits, now=T0 + i) for i in range(5)]
    assert not store.hit(limits, now=T0 + 10).allowed
    # when two of its requests are given back (logins that succeeded)
    store.refund(limits, hits[1].at_ms)
    store.refund(limits, hits[3].at_ms)
    # then exactly two more fit
    assert [store.hit(limits, now=T0 + 11 + i).allowed for i in range(3)] == [True, True, False]


def test_a_refund_never_goes_below_zero(store):
    limits = [limit("a", "3/minute")]
    store.refund(limits, int(T0 * 1000))  # nothing was counted
    assert [store.hit(limits, now=T0 + i).allowed for i in range(4)] == [True] * 3 + [False]


def test_a_check_only_limit_refuses_but_is_never_charged(store):
    charged = Limit(key="fail", rate=parse_rate("2/minute"))
    checked = Limit(key="fail", rate=parse_rate("2/minute"), counted=False)
    other = limit("other", "100/minute")
    # requests that are only checked against it pass and leave it as it was
    for i in range(5):
        decision = store.hit([other, checked], now=T0 + i)
        assert decision.allowed and decision.states[1].count == 0
    # once failures fill it, it refuses the checked requests, and charges nothing else
    store.hit([charged], now=T0 + 6)
    store.hit([charged], now=T0 + 7)
    refused = store.hit([other, checked], now=T0 + 8)
    assert not refused.allowed
    assert refused.states[0].count == 5


def test_reservations_and_refunds_stay_exact_under_concurrency(redis_server):
    """The login budget: attempts are charged before the password is checked and successes
    given back; 60 concurrent attempts (20 of them successes) against 5/minute + 20/day."""
    import threading

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    limits = [limit("acct:m", "5/minute"), limit("acct:d", "20/day")]
    results: list[tuple[str, bool]] = []
    lock = threading.Lock()
    start = threading.Barrier(60)

    def attempt(kind: str) -> None:
        store = RedisWindowStore(redis.Redis.from_url(redis_server.url))
        start.wait(timeout=30)
        decision = store.hit(limits, now=T0)
        if decision.allowed and kind == "success":
            store.refund(limits, decision.at_ms)
        with lock:
            results.append((kind, decision.allowed))

    threads = [
        threading.Thread(target=attempt, args=("success" if n % 3 == 0 else "failure",))
        for n in range(60)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    failures_checked = sum(1 for kind, allowed in results if kind == "failure" and allowed)
    # then never more than 5 failures were checked, and exactly those stay counted
    assert len(results) == 60
    assert 1 <= failures_checked <= 5
    after = RedisWindowStore(client).hit(limits, now=T0 + 1)
    assert after.states[0].count - (1 if after.allowed else 0) == failures_checked
