"""A read that fails for a reason of its server's own is retried once on another server.

Used by the backend of every alias (``core.db.backends.postgresql``):

- on a replica: connection failures (refused, reset, server shutting down: the replica is then
  marked down until the next health check) and recovery conflicts (the standby cancelled the
  query to apply WAL: the replica stays up) are retried on the primary;
- on the primary: a connection failure marks it down (``core.db.health.primary_status``), and a
  plain ``SELECT`` outside a transaction is retried on a replica that serves a primary outage.
  Anything else (writes, transactions) fails as it is: the API answers 503.

Not retried: anything inside ``atomic()``, and every other error, which would fail the same
way on the other server.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from contextvars import ContextVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from core.db import conf, metrics
from core.db.health import primary_status, registry
from core.db.routing import primary_or_outage_replica
from core.observability.logging import one_line

logger = logging.getLogger(__name__)

CONNECTION_ERROR, RECOVERY_CONFLICT = "connection_error", "recovery_conflict"
# admin_shutdown, crash_shutdown, cannot_connect_now, idle_session_timeout; class 08 below.
CONNECTION_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05"})
# serialization_failure / deadlock_detected on a read-only standby: conflict with recovery.
RECOVERY_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})


def classify(exc: BaseException, connection: BaseDatabaseWrapper) -> str | None:
    """``connection_error``, ``recovery_conflict`` or None for an error raised by a server."""
    cause = exc.__cause__ if isinstance(exc.__cause__, psycopg.Error) else exc
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate in RECOVERY_CONFLICT_SQLSTATES:
        return RECOVERY_CONFLICT
    if sqlstate is not None and (sqlstate.startswith("08") or sqlstate in CONNECTION_SQLSTATES):
        return CONNECTION_ERROR
    raw = connection.connection
    if isinstance(cause, psycopg.OperationalError) and (
        sqlstate is None or (raw is not None and raw.broken)
    ):
        # No SQLSTATE: the client library lost or could not open the connection.
        return CONNECTION_ERROR
    return None


_retrying: ContextVar[bool] = ContextVar("core_db_retrying", default=False)


@contextlib.contextmanager
def retrying() -> Iterator[None]:
    """The block is a retry: a failure in it propagates (one retry, never a ping-pong)."""
    token = _retrying.set(True)
    try:
        yield
    finally:
        _retrying.reset(token)


def fallback_connection(
    connection: BaseDatabaseWrapper, exc: BaseException, sql: str | None = None
) -> BaseDatabaseWrapper | None:
    """The connection to retry on, or None to let ``exc`` propagate.

    ``sql`` is the statement that failed; None when opening the connection failed, before any
    statement (only a replica's reads are retried then: the router opens the primary's
    connection itself before sending it a read, see ``routing.primary_unreachable``).
    """
    if _retrying.get():
        return None
    if connection.alias == DEFAULT_DB_ALIAS:
        return _primary_fallback(connection, exc, sql)
    if not conf.is_replica(connection.alias) or connection.in_atomic_block:
        return None
    reason = classify(exc, connection)
    if reason is None:
        return None
    if reason == CONNECTION_ERROR:
        registry.mark_down(connection.alias, f"query failed: {one_line(exc, 200)}")
        # Drop the broken connection; the next use after recovery opens a new one.
        with contextlib.suppress(Exception):
            connection.close()
    else:
        logger.info(
            "read on %s cancelled by a recovery conflict; retried on the primary", connection.alias
        )
    metrics.FALLBACKS.labels(reason).inc()
    return connections[DEFAULT_DB_ALIAS]


def _primary_fallback(
    connection: BaseDatabaseWrapper, exc: BaseException, sql: str | None
) -> BaseDatabaseWrapper | None:
    if classify(exc, connection) != CONNECTION_ERROR:
        return None
    primary_status.mark_down(f"query failed: {one_line(exc, 200)}")
    if connection.in_atomic_block:
        return None  # the transaction is lost; atomic() rolls back and closes what is broken
    with contextlib.suppress(Exception):
        connection.close()
    if sql is None or not _plain_select(sql):
        return None
    alias = primary_or_outage_replica(conf.replica_aliases())
    return None if alias == DEFAULT_DB_ALIAS else connections[alias]


_ROW_LOCK = re.compile(r"\bFOR\s+(NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)


def _plain_select(sql: str) -> bool:
    """A read-only statement: SELECT, without a row lock (which needs the primary). A compound
    query (``union()``) is compiled for PostgreSQL as ``(SELECT ...) UNION ALL (SELECT ...)``:
    availability's, the one read most likely to meet a primary that just died."""
    return sql.lstrip("( \t\n")[:6].upper() == "SELECT" and _ROW_LOCK.search(sql) is None
