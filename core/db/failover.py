"""A replica query that fails for a replica-only reason is retried once on the primary.

Used by the replica backend (``core.db.backends.postgresql``). Retried: connection failures
(refused, reset, server shutting down: the replica is then marked down until the next health
check) and recovery conflicts (the standby cancelled the query to apply WAL: the replica stays
up). Not retried: anything inside ``atomic()`` on the replica, and every other error, which
would fail the same way on the primary.
"""

from __future__ import annotations

import contextlib
import logging

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from core.db import conf, metrics
from core.db.health import registry

logger = logging.getLogger(__name__)

CONNECTION_ERROR, RECOVERY_CONFLICT = "connection_error", "recovery_conflict"
# admin_shutdown, crash_shutdown, cannot_connect_now, idle_session_timeout; class 08 below.
CONNECTION_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05"})
# serialization_failure / deadlock_detected on a read-only standby: conflict with recovery.
RECOVERY_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})


def classify(exc: BaseException, connection: BaseDatabaseWrapper) -> str | None:
    """``connection_error``, ``recovery_conflict`` or None for an error raised on a replica."""
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


def fallback_connection(
    connection: BaseDatabaseWrapper, exc: BaseException
) -> BaseDatabaseWrapper | None:
    """The primary's connection to retry on, or None to let ``exc`` propagate."""
    if not conf.is_replica(connection.alias) or connection.in_atomic_block:
        return None
    reason = classify(exc, connection)
    if reason is None:
        return None
    if reason == CONNECTION_ERROR:
        registry.mark_down(connection.alias, f"query failed: {' '.join(str(exc).split())[:200]}")
        # Drop the broken connection; the next use after recovery opens a new one.
        with contextlib.suppress(Exception):
            connection.close()
    else:
        logger.info(
            "read on %s cancelled by a recovery conflict; retried on the primary", connection.alias
        )
    metrics.FALLBACKS.labels(reason).inc()
    return connections[DEFAULT_DB_ALIAS]
