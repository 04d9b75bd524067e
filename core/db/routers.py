"""``DATABASE_ROUTERS = ["core.db.routers.ReplicaRouter"]``: the primary and its read replicas.

- Writes, ``select_for_update`` (a write-intent query) and reads inside ``atomic()``: primary.
- Reads: a usable replica (healthy, in recovery, within the lag budget), or the primary when
  none is, when replicas are disabled, or when the request/client is pinned (read-your-writes,
  see ``core.db.middleware``).
- Migrations run on the primary only; replicas receive them through replication.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS

from core.db import conf, routing


class ReplicaRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        return routing.read_alias(model)

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        routing.record_write()
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        """Objects loaded from the primary and from its replicas are rows of one database."""
        databases = {DEFAULT_DB_ALIAS, *conf.replica_aliases()}
        if obj1._state.db in databases and obj2._state.db in databases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS
