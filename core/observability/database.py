"""Database instrumentation for every alias, whatever its ENGINE: query timing and pool use.

django-prometheus instruments queries by swapping each alias's ENGINE for its own backend; the
replica aliases already use ``core.db.backends.postgresql`` (retry on the primary), and two
engines cannot both be the class. So queries are timed by an execute wrapper installed on every
connection as it opens (``connection_created``), which works for any backend and sees the
replica's failed attempt and the primary's retry as the two statements they are.

Pool use: with persistent connections each worker thread holds one connection per alias it
used in the last ``CONN_MAX_AGE`` seconds. The gauge counts the connections this process holds
open, refreshed when one opens and after each request (once ``close_old_connections`` ran).
The server's connection limit is read on a new connection at most every
``LIMIT_REFRESH_SECONDS`` per alias.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import Counter as Tally
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from core.observability import context, metrics

logger = logging.getLogger(__name__)

LIMIT_REFRESH_SECONDS = 300.0
LIMIT_SQL = (
    "SELECT current_setting('max_connections')::int"
    " - current_setting('superuser_reserved_connections')::int"
)

_wrappers: weakref.WeakSet[BaseDatabaseWrapper] = weakref.WeakSet()
_wrappers_lock = threading.Lock()
_limit_checked_at: dict[str, float] = {}
_last_pool_sizes: dict[tuple[int, str], int] = {}
timer = time.perf_counter


def instrument_query(execute: Any, sql: str, params: Any, many: bool, ctx: dict[str, Any]) -> Any:
    """Execute wrapper: time the statement by alias, count errors, note it on the request."""
    alias = ctx["connection"].alias
    started = timer()
    try:
        return execute(sql, params, many, ctx)
    except Exception:
        metrics.db_query_errors.labels(alias=alias).inc()
        raise
    finally:
        metrics.query_duration(alias).observe(timer() - started)
        stats = context.current_stats()
        if stats is not None:
            stats.record_query(alias)


def on_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if instrument_query not in connection.execute_wrappers:
        # First, not last: ``with connection.execute_wrapper(w)`` pops the last wrapper on exit,
        # and a connection (re)opened inside such a block must not make it pop ours.
        connection.execute_wrappers.insert(0, instrument_query)
    with _wrappers_lock:
        _wrappers.add(connection)
    _refresh_connection_limit(connection)
    update_pool_gauges()


def update_pool_gauges(**kwargs: Any) -> None:
    """Set ``db_connection_pool_size{alias}`` to the connections this process holds open."""
    with _wrappers_lock:
        wrappers = list(_wrappers)
    held: Tally[str] = Tally()
    pools: dict[str, int] = {}
    for wrapper in wrappers:
        pool_size = _pool_size(wrapper)
        if pool_size is not None:
            pools[wrapper.alias] = pool_size
        elif wrapper.connection is not None:
            held[wrapper.alias] += 1
    for alias in settings.DATABASES:
        size = pools.get(alias, held[alias])
        # Every request ends here: set the gauge only when it changed in this process (a
        # forked worker starts without the values its parent set).
        key = (os.getpid(), alias)
        if _last_pool_sizes.get(key) != size:
            metrics.db_connection_pool_size.labels(alias=alias).set(size)
            _last_pool_sizes[key] = size


def _pool_size(wrapper: BaseDatabaseWrapper) -> int | None:
    """The psycopg pool's current size when the alias uses Django's pool, else None."""
    if not wrapper.settings_dict.get("OPTIONS", {}).get("pool"):
        return None
    pools = getattr(type(wrapper), "_connection_pools", {})
    pool = pools.get(wrapper.alias)  # never create a pool from here
    return None if pool is None else int(pool.get_stats().get("pool_size", 0))


def _refresh_connection_limit(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        return
    now = time.monotonic()
    checked = _limit_checked_at.get(connection.alias)
    if checked is not None and now - checked < LIMIT_REFRESH_SECONDS:
        return
    _limit_checked_at[connection.alias] = now
    try:
        # The raw driver connection: not a query of the request, not in its query log.
        with connection.connection.cursor() as cursor:
            cursor.execute(LIMIT_SQL)
            (limit,) = cursor.fetchone()
    except Exception as exc:  # the limit is informative; never fail a connection over it
        logger.debug("could not read the connection limit of %s: %s", connection.alias, exc)
        return
    metrics.db_connection_limit.labels(alias=connection.alias).set(limit)


def install() -> None:
    """Connect the signal handlers (``ObservabilityConfig.ready``); idempotent."""
    from django.core.signals import request_finished

    connection_created.connect(on_connection_created, dispatch_uid="observability-db")
    request_finished.connect(update_pool_gauges, dispatch_uid="observability-db-pool")
