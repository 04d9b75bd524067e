"""PostgreSQL backend for replica aliases: a read that fails on the replica runs on the primary.

``ENGINE = "core.db.backends.postgresql"`` (config/settings/base.py sets it for every
``DATABASE_REPLICA_URLS`` entry). Two places can fail: opening the connection (replica down
when the request starts) and executing on an open connection (replica stopped or restarted
under a persistent connection). In both, ``core.db.failover`` decides; on a retry the cursor
the ORM holds is re-pointed at a primary cursor that ran the same SQL, so the caller reads the
primary's rows without knowing.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db.backends.postgresql import base as postgresql
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.utils import OperationalError

from core.db.failover import fallback_connection


class _RetryOnPrimary:
    cursor: Any
    db: Any

    def execute(self, sql: str, params: Any = None) -> Any:
        try:
            return super().execute(sql, params)  # type: ignore[misc]
        except OperationalError as exc:
            primary = fallback_connection(self.db, exc)
            if primary is None:
                raise
            named = getattr(self.cursor, "name", None)
            retry = primary.chunked_cursor() if named else primary.cursor()
            result = retry.execute(sql, params)
            with contextlib.suppress(Exception):
                self.cursor.close()
            self.cursor, self.db = retry.cursor, primary
            return result


class ReplicaCursorWrapper(_RetryOnPrimary, CursorWrapper):
    pass


class ReplicaCursorDebugWrapper(_RetryOnPrimary, CursorDebugWrapper):
    pass


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def _cursor(self, name: str | None = None) -> Any:
        try:
            return super()._cursor(name)
        except OperationalError as exc:
            primary = fallback_connection(self, exc)
            if primary is None:
                raise
            return primary._cursor(name)

    def make_cursor(self, cursor: Any) -> CursorWrapper:
        return ReplicaCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> CursorWrapper:
        return ReplicaCursorDebugWrapper(cursor, self)
