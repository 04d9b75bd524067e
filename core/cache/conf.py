"""The cache tiers' settings, read on every call so tests and operators can change them."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def get(name: str) -> Any:
    """The setting ``name``; its default is in config/settings/base.py, the one place."""
    return getattr(settings, name)


def enabled() -> bool:
    return bool(get("CACHE_RESULTS_ENABLED"))


def alias() -> str:
    return str(get("CACHE_RESULTS_ALIAS"))


def release() -> str:
    return str(get("RELEASE"))


def local_seconds() -> float:
    """How long a worker trusts what it knows locally (dataset versions, L1 values)."""
    return float(get("CACHE_LOCAL_SECONDS"))


def local_max_bytes() -> int:
    return int(get("CACHE_LOCAL_MAX_BYTES"))


def lock_seconds() -> float:
    return float(get("CACHE_LOCK_SECONDS"))


def lock_wait_seconds() -> float:
    return float(get("CACHE_LOCK_WAIT_SECONDS"))


def breaker_failures() -> int:
    return int(get("CACHE_BREAKER_FAILURES"))


def breaker_cooldown_seconds() -> float:
    return float(get("CACHE_BREAKER_COOLDOWN_SECONDS"))
