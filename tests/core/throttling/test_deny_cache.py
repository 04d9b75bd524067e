"""The per-process deny cache: a client refused until T is refused without Redis until T,
with the answer Redis would have given (real Redis, injected clock, no sleeping)."""

import pytest

from core.throttling import limiter as limiter_module
from core.throttling.denials import DenyCache
from core.throttling.limiter import ScopedLimit
from core.throttling.rates import parse_rate
from core.throttling.store import Limit, LimitState
from tests.conftest import assert_error
from tests.core.throttling.conftest import decisions

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("throttling")]

PACKAGES = "/api/v1/packages/"


@pytest.fixture
def redis_calls(monkeypatch) -> list[list[str]]:
    """The keys of every throttle script call the process's limiter makes to Redis."""
    shared = limiter_module.get_limiter().shared
    assert shared is not None
    calls: list[list[str]] = []
    real = shared.hit

    def counting(limits, now=None):
        calls.append([limit.key for limit in limits])
        return real(limits, now=now)

    monkeypatch.setattr(shared, "hit", counting)
    return calls


def refusal(response) -> tuple:
    return (
        response.status_code,
        response.content,
        response.headers["Retry-After"],
        response.headers["RateLimit-Policy"],
        response.headers["RateLimit"],
    )


def test_a_refused_client_is_refused_locally_until_t(api_client, fresh_ip, clock, redis_calls):
    for _ in range(100):
        assert api_client.get(PACKAGES, REMOTE_ADDR=fresh_ip).status_code == 200
    clock.now += 15
    first = api_client.get(PACKAGES, REMOTE_ADDR=fresh_ip)  # Redis refuses: T = now + 45
    assert_error(first, 429, "throttled")
    assert len(redis_calls) == 101

    rejected = decisions("anon", "rejected")
    clock.now += 5
    local = [api_client.get(PACKAGES, REMOTE_ADDR=fresh_ip) for _ in range(20)]
    assert len(redis_calls) == 101  # not one more round trip
    assert decisions("anon", "rejected") - rejected == 20  # still counted as refusals
    assert len({refusal(response) for response in local}) == 1
    assert refusal(local[0])[2:] == ("40", '"anon_60";q=100;w=60', '"anon_60";r=0;t=40')

    # What Redis says at the same moment, without the cache: the same answer.
    limiter_module.get_limiter().denials.forget(k for call in redis_calls for k in call)
    assert refusal(api_client.get(PACKAGES, REMOTE_ADDR=fresh_ip)) == refusal(local[0])
    assert len(redis_calls) == 102

    # Retry-After counts down to T; at T the next request goes to Redis again and passes.
    clock.now += 39.5
    assert api_client.get(PACKAGES, REMOTE_ADDR=fresh_ip).headers["Retry-After"] == "1"
    assert len(redis_calls) == 102
    clock.now += 0.5
    assert api_client.get(PACKAGES, REMOTE_ADDR=fresh_ip).status_code == 200
    assert len(redis_calls) == 103


def test_other_clients_still_ask_redis(api_client, fresh_ip, redis_calls):
    for _ in range(101):
        api_client.get(PACKAGES, REMOTE_ADDR=fresh_ip)
    calls = len(redis_calls)
    assert api_client.get(PACKAGES, REMOTE_ADDR="203.0.113.77").status_code == 200
    assert len(redis_calls) == calls + 1


def test_a_refusal_by_a_refunded_scope_is_not_cached(settings, clock):
    """Login failure budgets can be given back (a success), so Redis decides every time."""
    limiter = limiter_module.get_limiter()
    prefix = settings.CACHE_KEY_PREFIX
    login = ScopedLimit(
        "login_email", Limit(key=f"{prefix}:deny-test:login", rate=parse_rate("2/minute"))
    )
    outcomes = [limiter.hit([login], now=clock.now) for _ in range(3)]
    assert [o.allowed for o in outcomes] == [True, True, False]
    assert len(limiter.denials) == 0
    limiter.refund(outcomes[0], ["login_email"])
    assert limiter.hit([login], now=clock.now).allowed  # the refund is seen at once


def test_a_refund_forgets_the_refunded_keys_in_this_process(settings, clock):
    limiter = limiter_module.get_limiter()
    key = f"{settings.CACHE_KEY_PREFIX}:deny-test:anon"
    anon = ScopedLimit("anon", Limit(key=key, rate=parse_rate("1/minute")))
    first = limiter.hit([anon], now=clock.now)
    assert not limiter.hit([anon], now=clock.now).allowed
    assert len(limiter.denials) == 1
    limiter.refund(first, ["anon"])
    assert len(limiter.denials) == 0
    assert limiter.hit([anon], now=clock.now).allowed


def test_the_cache_is_bounded_and_never_mixes_clocks():
    cache = DenyCache(max_keys=2)
    rate = parse_rate("1/minute")
    limits = [Limit(key=f"k{n}", rate=rate) for n in range(3)]
    for limit in limits:
        full = LimitState(limit=limit, count=1, retry_after=30.0, reset=30.0)
        cache.remember([full], now_ms=1000, injected=True)
    assert len(cache) == 2
    assert cache.refusal(limits[:1], now_ms=2000, injected=True) is None  # evicted, oldest
    states = cache.refusal(limits[1:], now_ms=2000, injected=True)
    assert states is not None and [s.retry_after for s in states] == [29.0, 29.0]
    assert cache.refusal(limits[1:], now_ms=2000, injected=False) is None
