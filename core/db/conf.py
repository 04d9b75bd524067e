"""The replica router's settings, read on every call so tests and operators can change them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

REPLICA_ALIAS_PREFIX = "replica_"


def get(name: str) -> Any:
    """The setting ``name``; its default is in config/settings/base.py, the one place."""
    return getattr(settings, name)


def replica_aliases() -> list[str]:
    """Aliases of the primary's replicas: ``replica_1``, ``replica_2``, ... in settings order."""
    return [alias for alias in settings.DATABASES if alias.startswith(REPLICA_ALIAS_PREFIX)]


def is_replica(alias: str) -> bool:
    return alias != DEFAULT_DB_ALIAS and alias.startswith(REPLICA_ALIAS_PREFIX)


def reads_enabled() -> bool:
    return bool(get("REPLICA_READS_ENABLED"))


def max_lag_seconds() -> float:
    return float(get("REPLICA_MAX_LAG_SECONDS"))


def health_check_seconds() -> float:
    return float(get("REPLICA_HEALTH_CHECK_SECONDS"))


def pin_seconds() -> float:
    return float(get("REPLICA_PIN_SECONDS"))


def probe_timeout_seconds() -> float:
    return float(get("REPLICA_PROBE_TIMEOUT_SECONDS"))


def weights() -> dict[str, int]:
    return dict(get("REPLICA_WEIGHTS") or {})


def primary_models() -> frozenset[str]:
    """``app_label.ModelName`` labels always read from the primary, lower-cased."""
    return frozenset(label.lower() for label in get("REPLICA_PRIMARY_MODELS") or ())


def health_check_idle_seconds() -> float:
    """How long a persistent connection may sit unused before its next use is preceded by
    ``CONN_HEALTH_CHECKS``' ``SELECT 1`` (core/db/backends/postgresql)."""
    return float(get("DATABASE_HEALTH_CHECK_IDLE_SECONDS"))
