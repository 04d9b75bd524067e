"""Readiness: the checks behind ``/readyz`` and how other modules add theirs.

A check is a function returning ``{dependency: {"status": ..., ...}}`` (one entry, or several
such as one per replica). The backend is ready when every entry of every *critical* check says
``"ok"``; the others are reported but do not take the backend out of rotation, because it
still serves with them down (replicas fall back to the primary, the cache to the database).
Only the primary is critical (API.md, Operations).

Another module adds or replaces a check by name, e.g. the cache's circuit breaker::

    from core.observability.readiness import checks
    checks.register("cache_breaker", lambda: {"cache_breaker": {"status": breaker.state}})

A check that raises is reported as ``down`` with the error, never as a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, connections

from core.db import conf as db_conf
from core.db.health import probe_params
from core.db.health import registry as replica_health
from core.observability.logging import one_line

logger = logging.getLogger(__name__)

OK, DOWN, UNKNOWN = "ok", "down", "unknown"
Entries = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], Entries]
    critical: bool


class ReadinessChecks:
    """The registered checks, run in registration order."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def register(self, name: str, run: Callable[[], Entries], *, critical: bool = False) -> None:
        """Add the check ``name``, or replace the one registered under that name."""
        self._checks[name] = Check(name, run, critical)

    def unregister(self, name: str) -> None:
        self._checks.pop(name, None)

    def names(self) -> list[str]:
        return list(self._checks)

    def evaluate(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Run every check; return (ready, {dependency: state})."""
        ready = True
        report: dict[str, dict[str, Any]] = {}
        for check in list(self._checks.values()):
            try:
                entries = {key: dict(value) for key, value in check.run().items()}
            except Exception as exc:  # a broken check reports itself; /readyz still answers
                logger.warning("readiness check %s failed: %s", check.name, exc)
                entries = {check.name: {"status": DOWN, "detail": one_line(exc)}}
            if check.critical and any(entry.get("status") != OK for entry in entries.values()):
                ready = False
            report.update(entries)
        return ready, report


def primary() -> Entries:
    """The primary answers a query, on a connection of its own with short timeouts."""
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        if connection.vendor == "postgresql":
            with psycopg.connect(**probe_params(connection)) as conn:
                conn.execute("SELECT 1").fetchone()
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
    except Exception as exc:  # any backend's error means "not answering"
        return {"primary": {"status": DOWN, "detail": one_line(exc)}}
    return {"primary": {"status": OK}}


def replicas() -> Entries:
    """Each replica's verdict and lag from the router's health registry (cached briefly)."""
    entries: dict[str, dict[str, Any]] = {}
    for alias in db_conf.replica_aliases():
        health = replica_health.health(alias)
        entry: dict[str, Any] = {"status": health.state, "lag_seconds": health.lag_seconds}
        if health.detail:
            entry["detail"] = health.detail
        entries[alias] = entry
    return entries


def cache() -> Entries:
    """The default cache answers: a PING for Redis, a read for the others."""
    backend = caches["default"]
    name = type(backend).__name__
    try:
        client = getattr(backend, "client", None)
        if client is not None and hasattr(client, "get_client"):  # django-redis
            client.get_client(write=True).ping()
            name = "redis"
        elif hasattr(backend, "_cache") and hasattr(backend._cache, "get_client"):  # Django's
            backend._cache.get_client().ping()
            name = "redis"
        else:
            backend.get("readyz:probe")
    except Exception as exc:  # the backend's own connection errors
        return {"cache": {"status": DOWN, "backend": name, "detail": one_line(exc)}}
    return {"cache": {"status": OK, "backend": name}}


def cache_breaker_unknown() -> Entries:
    """Placeholder until the cache module registers its circuit breaker's check."""
    return {"cache_breaker": {"status": UNKNOWN, "detail": "no cache circuit breaker installed"}}


checks = ReadinessChecks()
checks.register("primary", primary, critical=True)
checks.register("replicas", replicas)
checks.register("cache", cache)
checks.register("cache_breaker", cache_breaker_unknown)
