"""The cache tiers: selectors' results in Redis (and in-process for the hottest), invalidated on
write, refilled once per stampede, never from a stale replica, and harmless when Redis dies.

Where each part lives:

- ``keys``: ``CacheKey``, built by one named, typed key function per dataset;
- ``results``: ``cache_result`` / ``cache_many``, the lookup, the stampede lock, the
  replica-aware refill and the fingerprints the HTTP layer turns into ETags;
- ``versions``: version scopes and the staleness bound (``CACHE_LOCAL_SECONDS``);
- ``invalidation``: ``invalidate()`` after commit, ``invalidate_on_change()`` for models;
- ``local``: the bounded L1 tier; ``backend``: the circuit breaker in front of Redis;
- ``http``: Cache-Control, ETag and 304 for public GETs, private by default, and their
  rendered bodies kept by ETag;
- ``pages``: cached first pages through DRF's cursor pagination;
- ``warming`` / ``stats``: what ``manage.py warm_cache`` and ``cache_stats`` do.

What each app caches, and which writes invalidate it, is declared in ``<app>/caching.py``.

Settings: ``CACHE_RESULTS_ENABLED``, ``CACHE_RESULTS_ALIAS``, ``CACHE_LOCAL_SECONDS``,
``CACHE_LOCAL_MAX_BYTES``, ``CACHE_LOCK_SECONDS``, ``CACHE_LOCK_WAIT_SECONDS``,
``CACHE_BREAKER_FAILURES``, ``CACHE_BREAKER_COOLDOWN_SECONDS``, ``RELEASE``; the backend
itself is ``CACHES`` (config/settings/base.py).
"""

from core.cache.invalidation import (
    invalidate,
    invalidate_everything,
    invalidate_on_change,
    invalidate_on_field_change,
)
from core.cache.keys import CacheKey
from core.cache.results import cache_many, cache_result


def reset_local_state() -> None:
    """Forget everything this process holds: L1 entries, rendered bodies, replayed answers,
    trusted versions, pending bumps, the breaker's state (tests; after flushing Redis by hand)."""
    from core.cache import http, local, replay
    from core.cache.backend import guarded
    from core.cache.versions import store

    local.tier.clear()
    http.rendered.clear()
    replay.answers.clear()
    store.reset_local()
    guarded.reset()


__all__ = [
    "CacheKey",
    "cache_many",
    "cache_result",
    "invalidate",
    "invalidate_everything",
    "invalidate_on_change",
    "invalidate_on_field_change",
    "reset_local_state",
]
