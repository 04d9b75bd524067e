"""The shared cache behind a circuit breaker: every call the cache tiers make goes through here.

A call that raises or times out counts against the breaker (``core.circuit_breaker``); after
``CACHE_BREAKER_FAILURES`` in a row it opens, and for ``CACHE_BREAKER_COOLDOWN_SECONDS`` every
call fails at once with ``CacheUnavailable`` without touching Redis, so the callers read the
database instead. Then one call probes; its success closes the breaker by itself. A hanging
Redis therefore costs the first few requests one socket timeout each (``SOCKET_TIMEOUT`` in
``CACHES``) and every later request a lock acquisition, until it answers again. Each state
change is logged once, counted in ``cache_breaker_open`` and shown by ``/readyz``.

Only the cache tiers use this guard; other users of the same Redis (read-your-writes pins,
throttle counters) have their own failure handling.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import BaseCache, caches
from django_redis.compressors.zlib import ZlibCompressor

from core.cache import conf
from core.circuit_breaker import CLOSED, OPEN, CircuitBreaker
from core.observability.logging import one_line

logger = logging.getLogger(__name__)


class CacheUnavailable(Exception):
    """The shared cache cannot be used right now: the call failed, or the breaker is open
    (``skipped``: no call was made)."""

    def __init__(self, message: str, *, skipped: bool = False) -> None:
        super().__init__(message)
        self.skipped = skipped


class GuardedCache:
    """The cache named by ``CACHE_RESULTS_ALIAS``, called only while the breaker allows it."""

    def __init__(self) -> None:
        self._last_error = ""
        self.breaker = self._new_breaker()

    @property
    def cache(self) -> BaseCache:
        return caches[conf.alias()]

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``cache.<operation>(*args, **kwargs)``; raises ``CacheUnavailable`` instead of
        the backend's own errors."""
        if not self.breaker.allow():
            raise CacheUnavailable("the cache circuit breaker is open", skipped=True)
        try:
            result = getattr(self.cache, operation)(*args, **kwargs)
        except Exception as exc:  # the backend's errors: redis.ConnectionError, TimeoutError, ...
            self._last_error = f"{type(exc).__name__}: {one_line(exc, 200)}"
            self.breaker.record_failure()
            raise CacheUnavailable(self._last_error) from exc
        self.breaker.record_success()
        return result

    def reset(self) -> None:
        """A closed breaker built from the current settings (tests; a settings change)."""
        from core.observability import metrics

        self.breaker = self._new_breaker()
        metrics.set_cache_breaker_open(False)

    def _new_breaker(self) -> CircuitBreaker:
        return CircuitBreaker(
            "cache",
            failure_threshold=conf.breaker_failures(),
            cooldown_seconds=conf.breaker_cooldown_seconds(),
            on_state_change=self._state_changed,
        )

    def _state_changed(self, previous: str, state: str) -> None:
        from core.observability import metrics

        metrics.set_cache_breaker_open(state != CLOSED)
        if state == OPEN and previous == CLOSED:
            logger.warning(
                "cache unavailable (%s); cached reads use the database for %gs at a time",
                self._last_error,
                self.breaker.cooldown_seconds,
            )

    def readiness(self) -> dict[str, dict[str, Any]]:
        """The ``/readyz`` entry: ``ok`` while the breaker is closed."""
        state = self.breaker.state
        return {"cache_breaker": {"status": "ok" if state == CLOSED else "down", "state": state}}


guarded = GuardedCache()


class LargeValueZlibCompressor(ZlibCompressor):
    """django-redis ``COMPRESSOR``: zlib for values over 1 KiB only. Small values (versions,
    locks, pins, short lists) are stored as they are: compressing them saves nothing and costs
    CPU on every read. django-redis reads both kinds back."""

    min_length = 1024
