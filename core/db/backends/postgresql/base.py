"""PostgreSQL backend for the primary and its replicas: a read that fails because its server is
unreachable runs on the other side (a replica's on the primary, the primary's on a replica).

``ENGINE = "core.db.backends.postgresql"`` (config/settings/base.py sets it for the primary and
every ``DATABASE_REPLICA_URLS`` entry). Two places can fail: opening the connection (server down
when the request starts) and executing on an open connection (server stopped or restarted
under a persistent connection). In both, ``core.db.failover`` decides; on a retry the cursor
the ORM holds is re-pointed at another server's cursor that ran the same SQL, so the caller
reads its rows without knowing.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db.backends.postgresql import base as postgresql
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.utils import OperationalError

from core.db.failover import fallback_connection, retrying


class _RetryElsewhere:
    cursor: Any
    db: Any

    def execute(self, sql: str, params: Any = None) -> Any:
        try:
            return super().execute(sql, params)  # type: ignore[misc]
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
    def _cursor(self, name: str | None = None) -> Any:
        try:
            return super()._cursor(name)
        except OperationalError as exc:
            other = fallback_connection(self, exc)
            if other is None:
                raise
            with retrying():
                return other._cursor(name)

    def make_cursor(self, cursor: Any) -> CursorWrapper:
        return RetryingCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> CursorWrapper:
        return RetryingCursorDebugWrapper(cursor, self)
