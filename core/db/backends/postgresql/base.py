"""PostgreSQL backend for the primary and its replicas: a read that fails because its server is
unreachable runs on the other side (a replica's on the primary, the primary's on a replica).

``ENGINE = "core.db.backends.postgresql"`` (config/settings/base.py sets it for the primary and
every ``DATABASE_REPLICA_URLS`` entry). Two places can fail: opening the connection (server down
when the request starts) and executing on an open connection (server stopped or restarted
under a persistent connection). In both, ``core.db.failover`` decides; on a retry the cursor
the ORM holds is re-pointed at another server's cursor that ran the same SQL, so the caller
reads its rows without knowing.

``CONN_HEALTH_CHECKS`` costs a ``SELECT 1`` round trip at the first use of a persistent
connection in every request. Here it runs only when it can find something: on a connection
idle for ``DATABASE_HEALTH_CHECK_IDLE_SECONDS`` or more (a database restarted, a server or
PgBouncer that closed idle sessions, a NAT that forgot the flow), or after an error on it
(Django's own check at the request's boundaries, and here at the next use). A connection in
steady use skips it: if its server went away since the last statement, that statement fails
like any other and the failover above retries a read elsewhere.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from django.db.backends.postgresql import base as postgresql
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.utils import OperationalError

from core.db import conf
from core.db.failover import fallback_connection, retrying


class _RetryElsewhere:
    cursor: Any
    db: Any

    def execute(self, sql: str, params: Any = None) -> Any:
        try:
            return super().execute(sql, params)
        except OperationalError as exc:
            other = fallback_connection(self.db, exc, sql)
            if other is None:
                raise
            named = getattr(self.cursor, "name", None)
            with retrying():
                retry = other.chunked_cursor() if named else other.cursor()
                result = retry.execute(sql, params)
            with contextlib.suppress(Exception):
                self.cursor.close()
            self.cursor, self.db = retry.cursor, other
            return result


class RetryingCursorWrapper(_RetryElsewhere, CursorWrapper):
    pass


class RetryingCursorDebugWrapper(_RetryElsewhere, CursorDebugWrapper):
    pass


class DatabaseWrapper(postgresql.DatabaseWrapper):
    # When this connection last handed out a cursor (time.monotonic()); 0 before the first.
    last_used_at: float = 0.0
    timer = time.monotonic

    def _cursor(self, name: str | None = None) -> Any:
        try:
            cursor = super()._cursor(name)
        except OperationalError as exc:
            other = fallback_connection(self, exc)
            if other is None:
                raise
            with retrying():
                return other._cursor(name)
        self.last_used_at = self.timer()
        return cursor

    def close_if_health_check_failed(self) -> None:
        """Django's health check, skipped while the connection is in steady use and has had
        no error since it was last checked."""
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.errors_occurred
            and self.timer() - self.last_used_at < conf.health_check_idle_seconds()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def make_cursor(self, cursor: Any) -> CursorWrapper:
        return RetryingCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> CursorDebugWrapper:
        return RetryingCursorDebugWrapper(cursor, self)
