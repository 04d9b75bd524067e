"""Which limits a request falls under, and counting it against them with the failure policy.

Used by the DRF throttle (``throttles.py``) and the plain-Django view guard (admin login).
"""

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import redis
from django.conf import settings
from django.http import HttpRequest

from core.circuit_breaker import CircuitBreaker
from core.http.client_ip import client_ip_bucket
from core.http.errors import ServiceUnavailable
from core.redis_connections import redis_client
from core.throttling.denials import DenyCache
from core.throttling.policies import ScopePolicy, scope_policy
from core.throttling.rates import Rate
from core.throttling.store import (
    Decision,
    Limit,
    LimitState,
    MemoryFlags,
    MemoryWindowStore,
    RedisWindowStore,
)

T = TypeVar("T")
logger = logging.getLogger(__name__)


class ThrottleUnavailable(ServiceUnavailable):
    """While the shared counters are unavailable, sensitive scopes refuse rather than guess."""

    code = "throttle_unavailable"
    default_message = "This operation is briefly unavailable. Please retry shortly."


@dataclass(frozen=True)
class ScopedLimit:
    scope: str
    limit: Limit


@dataclass(frozen=True)
class Outcome:
    """What counting one request decided: ``allowed``, the ``tightest`` limit's state for the
    RateLimit headers, when refused how long to wait, and the ``scopes`` it was counted in."""

    allowed: bool
    tightest: tuple[str, LimitState] | None
    retry_after: float
    scopes: tuple[str, ...] = ()
    # What an allowed request was charged, and when: for giving a failures-only charge back.
    charged: tuple[ScopedLimit, ...] = ()
    at_ms: int = 0
    states: tuple[tuple[ScopedLimit, LimitState], ...] = ()


def scope_rates(scope: str) -> tuple[Rate, ...]:
    return scope_policy(scope).rates


def identity(request: HttpRequest, key_kind: str, user: object) -> str | None:
    """The bucket identity for a scope's key kind, or None when the scope does not apply
    (e.g. a per-user scope for an anonymous request, a login without an email)."""
    authenticated = getattr(user, "is_authenticated", False)
    if key_kind == "ip" or (key_kind == "client" and not authenticated):
        return f"ip:{client_ip_bucket(request)}"
    if key_kind in ("user", "client"):
        return f"user:{user.pk}" if authenticated else None  # type: ignore[attr-defined]
    if key_kind in ("email", "email_ip"):
        email = getattr(request, "throttle_email", None)
        if not email:
            return None
        if key_kind == "email_ip":
            return f"{email_identity(email)}:ip:{client_ip_bucket(request)}"
        return email_identity(email)
    raise ValueError(f"Unknown throttle key kind {key_kind!r}")


def email_identity(email: str) -> str:
    # Hashed: no personal data in Redis keys.
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def limits_for(
    request: HttpRequest, user: object, scopes: Iterable[str], *, check_only: Iterable[str] = ()
) -> list[ScopedLimit]:
    """The limits of ``scopes`` that apply to this request; those of ``check_only`` scopes
    may refuse it but are not charged."""
    prefix = settings.CACHE_KEY_PREFIX
    checked_only = frozenset(check_only)
    limits = []
    for scope in dict.fromkeys([*scopes, *check_only]):  # de-duplicated, in order
        policy = scope_policy(scope)
        ident = identity(request, policy.key, user)
        if ident is None:
            continue
        counted = scope not in checked_only
        for rate, key_prefix in _plan(prefix, policy):
            limit = Limit(key=key_prefix + ident, rate=rate, counted=counted)
            limits.append(ScopedLimit(scope=scope, limit=limit))
    return limits


@lru_cache(maxsize=256)
def _plan(prefix: str, policy: ScopePolicy) -> tuple[tuple[Rate, str], ...]:
    """A scope's rates with their Redis key prefixes: computed once per settings, not per
    request (the arguments are what the settings say now, so a change takes effect at once)."""
    return tuple((rate, f"{prefix}:throttle:{policy.name}:{rate.period}:") for rate in policy.rates)


class Limiter:
    """Counts requests in Redis behind a circuit breaker, with the per-scope failure policy:
    read scopes fall back to a per-process store, sensitive scopes raise ``ThrottleUnavailable``.
    """

    def __init__(self, redis_url: str | None):
        self.memory = MemoryWindowStore()
        self.flags = MemoryFlags()
        self.shared: RedisWindowStore | None = None
        if redis_url:
            client = redis_client(redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
            self.shared = RedisWindowStore(client)
        self.breaker = CircuitBreaker("throttle-redis", failure_threshold=3, cooldown_seconds=5)
        # Refusals Redis gave, kept until they expire: a flood from a refused client costs no
        # Redis round trip (core/throttling/denials.py).
        self.denials = DenyCache()

    def hit(
        self, scoped: list[ScopedLimit], *, now: float | None = None, jitter: float = 0.0
    ) -> Outcome:
        """Count one request against every enforced limit (all or none), and separately
        against the shadow ones (which never refuse)."""
        shadow_scopes = settings.THROTTLE_SHADOW_SCOPES
        enforced, shadow = scoped, []
        if shadow_scopes:
            enforced = [s for s in scoped if s.scope not in shadow_scopes]
            shadow = [s for s in scoped if s.scope in shadow_scopes]

        decision = self._denied_locally(enforced, now=now) or self._count(enforced, now=now)
        for scope in _refusing_scopes(enforced, decision) if not decision.allowed else ():
            record_decision(scope, "rejected")
        for scope in dict.fromkeys(s.scope for s in enforced) if decision.allowed else ():
            record_decision(scope, "allowed")
        if shadow:
            shadow_decision = self._count(shadow, now=now)
            for scope in _refusing_scopes(shadow, shadow_decision):
                record_decision(scope, "shadow_rejected")

        # A limit that is only checked is the tightest only once it refuses: a customer with a
        # valid token is not told about the budget of failed authentications.
        pairs = [
            (item.scope, state)
            for item, state in zip(enforced, decision.states, strict=True)
            if item.limit.counted or state.retry_after > 0
        ]
        tightest = min(pairs, key=lambda p: (p[1].remaining, -p[1].reset), default=None)
        retry_after = 0.0
        if not decision.allowed:
            retry_after = max(state.retry_after for state in decision.states) + jitter
        return Outcome(
            allowed=decision.allowed,
            tightest=tightest,
            retry_after=retry_after,
            scopes=tuple(dict.fromkeys(s.scope for s in scoped)),
            charged=tuple(s for s in enforced if s.limit.counted) if decision.allowed else (),
            at_ms=decision.at_ms,
            states=tuple(zip(enforced, decision.states, strict=True)),
        )

    def refund(self, outcome: Outcome, scopes: Iterable[str]) -> None:
        """Give back what ``outcome``'s request was charged in ``scopes`` (a login attempt that
        turned out not to be a failure). Best effort: a failing Redis keeps the charge."""
        limits = [s.limit for s in outcome.charged if s.scope in frozenset(scopes)]
        if not limits:
            return
        # Refunded scopes are never remembered as refusing; forgetting is for a scope that is
        # refunded without saying so in its policy (then only other processes may lag, to T).
        self.denials.forget(limit.key for limit in limits)
        if self.shared is not None and self.breaker.allow():
            try:
                self._on_redis(self.shared.refund, limits, outcome.at_ms)
            except redis.RedisError:
                logger.warning("throttle refund failed; the attempt stays counted")
            return
        self.memory.refund(limits, outcome.at_ms)

    def mark(
        self, key: str, *, ttl_seconds: int, now: float | None = None, only_if_new: bool = False
    ) -> bool:
        """Set the flag ``key`` for ``ttl_seconds``; with ``only_if_new``, True only for the
        one caller that set it (atomic). False when Redis fails."""
        if self.shared is None:
            clock = time.time() if now is None else now
            return self.flags.mark(
                key, ttl_ms=ttl_seconds * 1000, now=clock, only_if_new=only_if_new
            )
        if not self.breaker.allow():
            return False
        try:
            return self._on_redis(
                self.shared.mark, key, ttl_ms=ttl_seconds * 1000, now=now, only_if_new=only_if_new
            )
        except redis.RedisError:
            return False

    def marked(self, key: str, *, ttl_seconds: int, now: float | None = None) -> bool:
        """Whether the flag ``key`` was set less than ``ttl_seconds`` ago (False when Redis
        fails)."""
        if self.shared is None:
            clock = time.time() if now is None else now
            return self.flags.marked(key, ttl_ms=ttl_seconds * 1000, now=clock)
        if not self.breaker.allow():
            return False
        try:
            return self._on_redis(self.shared.marked, key, ttl_ms=ttl_seconds * 1000, now=now)
        except redis.RedisError:
            return False

    def _on_redis(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``call(*args, **kwargs)`` on Redis, its outcome told to the breaker. Every call the
        breaker allowed must report back: its first call after a cool-down is the probe, and a
        probe that reports nothing would leave the breaker half-open, refusing every caller,
        for good (a refund or a login flag as the first call after an outage did exactly that).
        """
        try:
            result = call(*args, **kwargs)
        except redis.RedisError:
            self.breaker.record_failure()
            raise
        except BaseException:
            self.breaker.record_unused()  # not Redis's answer: the next caller probes
            raise
        self.breaker.record_success()
        return result

    def _count(self, scoped: list[ScopedLimit], *, now: float | None) -> Decision:
        limits = [item.limit for item in scoped]
        if not limits:
            return Decision(allowed=True, states=[])
        if self.shared is not None and self.breaker.allow():
            # Read before the call: the local T it gives is never later than Redis's own.
            now_ms = _now_ms(now)
            try:
                decision = self._on_redis(self.shared.hit, limits, now=now)
            except redis.RedisError:
                pass  # the breaker has counted it; the scopes' failure policy answers below
            else:
                if not decision.allowed and settings.THROTTLE_DENY_CACHE:
                    states = zip(scoped, decision.states, strict=True)
                    self.denials.remember(
                        (state for item, state in states if _cacheable(item)),
                        now_ms=now_ms,
                        injected=now is not None,
                    )
                return decision
        if self.shared is not None:
            closed = [s.scope for s in scoped if _fails_closed(s.scope)]
            if closed:
                for scope in dict.fromkeys(closed):
                    record_decision(scope, "fail_closed")
                raise ThrottleUnavailable()
            for scope in dict.fromkeys(s.scope for s in scoped):
                record_decision(scope, "fail_open")
        return self.memory.hit(limits, now=time.time() if now is None else now)

    def _denied_locally(self, scoped: list[ScopedLimit], *, now: float | None) -> Decision | None:
        """The refusal Redis would give, from this process's memory of its refusals; None
        when none of ``scoped`` is remembered as full (then Redis decides)."""
        if not scoped or not len(self.denials) or not settings.THROTTLE_DENY_CACHE:
            return None
        states = self.denials.refusal(
            [s.limit for s in scoped], now_ms=_now_ms(now), injected=now is not None
        )
        return None if states is None else Decision(allowed=False, states=states)


def _now_ms(now: float | None) -> int:
    return int((time.time() if now is None else now) * 1000)


def _cacheable(scoped: ScopedLimit) -> bool:
    """A refusal is remembered only for limits whose count cannot go down before it expires."""
    return not scope_policy(scoped.scope).refunded


def _refusing_scopes(scoped: list[ScopedLimit], decision: Decision) -> list[str]:
    """The scopes of the limits that are full (empty when the request was allowed)."""
    if decision.allowed:
        return []
    full = [s.scope for s, st in zip(scoped, decision.states, strict=True) if st.retry_after > 0]
    return list(dict.fromkeys(full))


def _fails_closed(scope: str) -> bool:
    return scope_policy(scope).fails_closed


def record_decision(scope: str, decision: str) -> None:
    """Count a decision for the metrics (throttle_decisions_total{scope,decision})."""
    _decision_counter(scope, decision).inc()


@lru_cache(maxsize=256)
def _decision_counter(scope: str, decision: str) -> Any:
    # One labelled child per pair, looked up once: ``labels()`` takes a lock and builds a key
    # on every call. The child writes to the current process's values even after a fork.
    from core.observability import metrics

    return metrics.throttle_decisions.labels(scope=scope, decision=decision)


_limiters: dict[str | None, Limiter] = {}


def get_limiter() -> Limiter:
    """The process's limiter for the configured Redis (one connection pool per process)."""
    url = settings.THROTTLE_REDIS_URL
    if url not in _limiters:
        _limiters[url] = Limiter(url)
    return _limiters[url]
