"""Warming: each app registers what is worth filling before traffic arrives (``warm_cache``).

::

    warming.register("blog.featured_posts", lambda: selectors.get_featured_posts(limit=10))

A warmer calls its cached selectors, which fill whatever is missing or stale and leave the rest
(they are reads like any other: replica-aware, stampede-safe).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.cache.backend import guarded

logger = logging.getLogger(__name__)

_warmers: dict[str, Callable[[], object]] = {}


@dataclass(frozen=True)
class Warmed:
    name: str
    seconds: float
    error: str = ""


def register(name: str, warm: Callable[[], object]) -> None:
    """Add (or replace) the warmer ``name``."""
    _warmers[name] = warm


def names() -> list[str]:
    return sorted(_warmers)


def warm(only: list[str] | None = None) -> list[Warmed]:
    """Run the warmers (all, or those named in ``only``); one failing does not stop the rest.
    Raises ``KeyError`` for an unknown name, ``CacheUnavailable`` when the cache does not
    answer (warming would only read the database)."""
    selected = only or names()
    unknown = [name for name in selected if name not in _warmers]
    if unknown:
        raise KeyError(", ".join(unknown))
    guarded.call("get", "warming:probe")
    results = []
    for name in selected:
        started = time.perf_counter()
        try:
            _warmers[name]()
        except Exception as exc:  # reported per warmer; the operator sees which one failed
            logger.warning("cache warmer %s failed: %s", name, exc)
            results.append(
                Warmed(name, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
            )
            continue
        results.append(Warmed(name, time.perf_counter() - started))
    return results
