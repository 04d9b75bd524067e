"""Where Redis is: one URL, or a master that Redis Sentinel names (settings helpers only).

With ``REDIS_SENTINELS=host:port,host:port,...`` the clients ask the sentinels which server is
the master called ``REDIS_SENTINEL_MASTER``, and ask again after a failover. A URL whose host is
that master's name (``redis://myhibachi/0``, django-redis's convention) means "through the
sentinels" wherever the app builds a client (``core/redis_connections.py``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured


def parse_sentinels(text: str | None) -> list[tuple[str, int]]:
    """``"a:26379,b:26379"`` -> ``[("a", 26379), ("b", 26379)]``; empty or unset -> ``[]``."""
    sentinels = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(f"REDIS_SENTINELS: {item!r} is not host:port")
        sentinels.append((host.strip("[]"), int(port)))
    return sentinels


def sentinel_url(master: str, db: int = 0) -> str:
    """The URL that names the Sentinel master (its host part is the master's name)."""
    return f"redis://{master}/{db}"


def through_sentinel(url: str | None, master: str | None, sentinels: list[tuple[str, int]]) -> bool:
    """Whether ``url`` names the Sentinel master rather than a server."""
    return bool(url and master and sentinels and urlparse(url).hostname == master.lower())


def celery_sentinel_broker_url(sentinels: list[tuple[str, int]], db: int = 0) -> str:
    """kombu's form: one ``sentinel://`` URL per sentinel, joined by ``;`` (the master's name
    goes into the transport options, ``master_name``)."""
    return ";".join(f"sentinel://{host}:{port}/{db}" for host, port in sentinels)


def sentinel_cache_options(
    options: dict[str, Any], sentinels: list[tuple[str, int]], socket_timeout: float
) -> dict[str, Any]:
    """django-redis's OPTIONS for the master the sentinels name.

    https://github.com/jazzband/django-redis#use-the-sentinel-connection-factory
    The factory asks the sentinels for the master. django-redis's SentinelClient is not used:
    it sends reads to replicas, and the version keys and pins must be read where they were
    just written (a replica is milliseconds behind, and a pin that is not there yet is a stale
    read of the database).
    """
    return {
        **options,
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": sentinels,
        "SENTINEL_KWARGS": {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
        },
    }
