"""Every plain Redis client the app builds comes from here: by URL, or through Redis Sentinel.

The cache tiers and read-your-writes pins reach Redis through django-redis (``CACHES``, whose
Sentinel options ``config/settings/base.py`` sets); the throttle counters use a plain client
from ``redis_client``; Celery's broker is kombu's ``sentinel://`` transport. All three follow
the master the sentinels name.
"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from redis.sentinel import Sentinel

from config.redis import through_sentinel

# One Sentinel manager per process and set of sentinels: it keeps connections to the sentinels.
_sentinels: dict[tuple[tuple[str, int], ...], Sentinel] = {}


def redis_client(url: str, *, socket_timeout: float, socket_connect_timeout: float) -> redis.Redis:
    """A client for ``url``; a URL naming ``REDIS_SENTINEL_MASTER`` gets one whose connections
    ask the sentinels for the current master (and reconnect there after a failover: a
    connection that finds the old master gone or demoted to a replica is dropped)."""
    sentinels = list(settings.REDIS_SENTINELS)
    master = settings.REDIS_SENTINEL_MASTER
    if not through_sentinel(url, master, sentinels):
        return redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_connect_timeout
        )
    db = int((url.rsplit("/", 1)[-1] or "0").split("?")[0] or 0)
    client: redis.Redis = sentinel_manager(sentinels).master_for(
        master,
        db=db,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_connect_timeout,
    )
    return client


def sentinel_manager(sentinels: list[tuple[str, int]]) -> Sentinel:
    key = tuple(sentinels)
    if key not in _sentinels:
        _sentinels[key] = Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs())
    return _sentinels[key]


def sentinel_kwargs() -> dict[str, Any]:
    """How the clients talk to the sentinels themselves: short, so a dead sentinel costs one
    refused or timed-out connection before the next one is asked."""
    seconds = settings.REDIS_SENTINEL_SOCKET_TIMEOUT
    return {"socket_timeout": seconds, "socket_connect_timeout": seconds}
