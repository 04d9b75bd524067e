"""What the current request is, for log records and its log line: its id and what it used.

One ``RequestContext`` per request in a contextvar (set by ``RequestLoggingMiddleware``), so it
follows the request into async code and never leaks between the threads of a gthread worker.
Code outside a request (commands, the gunicorn master) sees None.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

# What we accept from X-Request-ID (nginx's $request_id is 32 hex digits); anything else is
# replaced, so a client cannot inject log syntax or blow up the log line.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")


@dataclass
class RequestStats:
    """What the request used: database aliases and queries, cache hits and misses."""

    db_aliases: set[str] = field(default_factory=set)
    db_queries: int = 0
    cache_hits: int = 0
    cache_misses: int = 0

    def record_query(self, alias: str) -> None:
        self.db_aliases.add(alias)
        self.db_queries += 1

    def record_cache_lookup(self, *, hit: bool, count: int = 1) -> None:
        if hit:
            self.cache_hits += count
        else:
            self.cache_misses += count


@dataclass
class RequestContext:
    request_id: str
    stats: RequestStats = field(default_factory=RequestStats)


_current: ContextVar[RequestContext | None] = ContextVar("observability_request", default=None)


def accept_request_id(candidate: str | None) -> str:
    """``candidate`` if well-formed (1 to 128 of ``[A-Za-z0-9._-]``), else a new random id."""
    if candidate and REQUEST_ID_PATTERN.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


@contextmanager
def request_context(request_id: str) -> Iterator[RequestContext]:
    """Make ``request_id`` the current request's id until the block ends."""
    token = _current.set(RequestContext(request_id))
    try:
        yield _current.get()  # type: ignore[misc]
    finally:
        _current.reset(token)


def current() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    ctx = _current.get()
    return ctx.request_id if ctx is not None else None


def current_stats() -> RequestStats | None:
    ctx = _current.get()
    return ctx.stats if ctx is not None else None
