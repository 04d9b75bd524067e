"""One description of the throttle's window, and both implementations held to it.

``ReferenceWindow`` is the algorithm of ``core/throttling/store.py`` written for clarity, not
speed: it keeps the time of every counted request and answers each question by looking at
them. Hypothesis draws request sequences (rates, limits shared between requests, time gaps from
a millisecond to past a whole period) and the Redis script and the in-process fallback must give
the reference's decision and every limit's state, request after request.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Sequence

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.throttling.rates import parse_rate
from core.throttling.store import (
    Decision,
    Limit,
    LimitState,
    MemoryWindowStore,
    RedisWindowStore,
)

T0 = 1_800_000_000.0  # an injected clock: nothing sleeps
KEYS = ("a", "b", "c")
RATES = ("1/second", "3/2s", "5/minute", "7/5m", "20/hour")

pytestmark = pytest.mark.servers


class ReferenceWindow:
    """A sliding window over sub-buckets of ``period / 60``, stated plainly:

    - the window of a limit at time *now* is the bucket holding *now* and the buckets before
      it, ``ceil(period / bucket)`` in all;
    - a request is allowed when, for every limit, fewer than ``limit`` counted requests fall
      in that window; it is then counted in every limit, and in none when refused;
    - ``retry_after``: until enough of the oldest counted requests have left the window for one
      more to fit; ``reset``: until the oldest counted request leaves it (a whole period when
      none is counted);
    - a limit that is not ``counted`` may refuse a request but is never charged by it;
    - a refund gives back one request counted at a given time, in the bucket it was counted in
      (nothing when that bucket holds none any more).
    """

    def __init__(self) -> None:
        self.counted: dict[str, list[int]] = defaultdict(list)  # key -> ms of each request

    def hit(self, limits: Sequence[Limit], now: float) -> Decision:
        now_ms = int(now * 1000)
        states = []
        for limit in limits:
            bucket = limit.bucket_ms
            span = math.ceil(limit.period_ms / bucket)
            oldest_bucket = now_ms // bucket - span + 1
            window = sorted(t for t in self.counted[limit.key] if t // bucket >= oldest_bucket)
            leaves_at = [(t // bucket + span) * bucket - now_ms for t in window]
            over = len(window) - limit.rate.limit
            retry = leaves_at[over] if over >= 0 else 0
            reset = leaves_at[0] if window else limit.period_ms
            states.append([limit, len(window), retry, reset])
        allowed = all(retry == 0 for _, _, retry, _ in states)
        if allowed:
            for state in states:
                if state[0].counted:
                    self.counted[state[0].key].append(now_ms)
                    state[1] += 1
        return Decision(
            allowed=allowed,
            at_ms=now_ms,
            states=[
                LimitState(limit=lim, count=count, retry_after=retry / 1000, reset=reset / 1000)
                for lim, count, retry, reset in states
            ],
        )

    def refund(self, limits: Sequence[Limit], at_ms: int) -> None:
        for limit in limits:
            same_bucket = [
                t
                for t in self.counted[limit.key]
                if t // limit.bucket_ms == at_ms // limit.bucket_ms
            ]
            if same_bucket:
                self.counted[limit.key].remove(same_bucket[0])


requests = st.lists(
    st.tuples(
        # milliseconds since the previous request: bursts, gaps of a bucket, of a whole period
        st.one_of(st.integers(0, 50), st.integers(0, 5_000), st.integers(0, 4_000_000)),
        st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True),
        # whether the first limit is checked only (``counted=False``), and whether the request
        # is then given back (a login that succeeded)
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=60,
)


@pytest.fixture
def redis_client(redis_server) -> redis.Redis:
    return redis.Redis.from_url(redis_server.url)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rates=st.fixed_dictionaries({key: st.sampled_from(RATES) for key in KEYS}), seq=requests)
def test_redis_and_memory_stores_follow_the_reference(redis_client, rates, seq):
    # given a fresh reference, Redis store and in-process store
    redis_client.flushdb()
    reference, shared = ReferenceWindow(), RedisWindowStore(redis_client)
    memory = MemoryWindowStore()
    limits_of = {key: Limit(key=key, rate=parse_rate(rate)) for key, rate in rates.items()}
    now_ms = 0
    for step, (gap_ms, keys, check_only_first, give_back) in enumerate(seq):
        # when the same request reaches all three
        now_ms += gap_ms
        now = T0 + now_ms / 1000
        limits = [limits_of[key] for key in keys]
        if check_only_first:
            limits[0] = dataclasses.replace(limits[0], counted=False)
        expected = reference.hit(limits, now)
        # then each answers exactly what the reference does
        assert shared.hit(limits, now=now) == expected, (step, "redis")
        assert memory.hit(limits, now=now) == expected, (step, "memory")
        if expected.allowed and give_back:
            charged = [limit for limit in limits if limit.counted]
            for store in (reference, shared, memory):
                store.refund(charged, expected.at_ms)


def test_the_reference_allows_exactly_the_limit_in_a_burst():
    # given a 3/minute limit
    window, limits = ReferenceWindow(), [Limit(key="k", rate=parse_rate("3/minute"))]
    # when 5 requests arrive in the same millisecond
    decisions = [window.hit(limits, T0) for _ in range(5)]
    # then 3 pass, and the refused ones wait a whole minute (the window is one bucket old)
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert decisions[3].states[0].retry_after == pytest.approx(60, abs=1)
