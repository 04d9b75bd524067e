"""Where a read goes: routing state in contextvars, ``use_primary()``, and the decision itself.

State lives in ``contextvars``, not thread locals: each request (or task) gets its own
``RoutingState`` through ``routing_scope()``, and it follows the code into async views and
``sync_to_async`` threads. New threads start with an empty context, so a thread pool inside a
request does not inherit "this request wrote"; wrap such work in ``use_primary()`` when it must
read the request's writes.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import ContextDecorator, contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

from core.db import conf, metrics
from core.db.health import ReplicaHealth, primary_status, registry
from core.observability.logging import one_line


class ClientPin(Protocol):
    def pin_reason(self) -> str | None:
        """Why this client must read the primary (e.g. "client_user"), or None."""


@dataclass
class RoutingState:
    """What the router knows about the current request or task."""

    wrote: bool = False
    client: ClientPin | None = None
    # The replica this request reads from, kept so its reads do not go back in time by
    # alternating between replicas at different replay positions.
    replica: str | None = None


_state: ContextVar[RoutingState | None] = ContextVar("core_db_routing_state", default=None)
_forced_primary: ContextVar[int] = ContextVar("core_db_forced_primary", default=0)
_round_robin = itertools.count()


def current_state() -> RoutingState | None:
    return _state.get()


@contextmanager
def routing_scope(client: ClientPin | None = None) -> Iterator[RoutingState]:
    """Give a request or task its own routing state: after its first write, it reads the primary.

    The pinning middleware opens one per request; background tasks should open one per task.
    """
    token = _state.set(RoutingState(client=client))
    try:
        yield _state.get()  # type: ignore[misc]
    finally:
        _state.reset(token)


class use_primary(ContextDecorator):
    """Send every read to the primary inside the block or decorated function.

    ``with use_primary(): ...`` or ``@use_primary()``; nests, and is safe across threads and
    async tasks because it is a contextvar.
    """

    def __init__(self) -> None:
        self._tokens: list[Token[int]] = []

    def __enter__(self) -> use_primary:
        self._tokens.append(_forced_primary.set(_forced_primary.get() + 1))
        return self

    def __exit__(self, *exc_info: object) -> None:
        _forced_primary.reset(self._tokens.pop())

    def _recreate_cm(self) -> use_primary:
        # A decorated function may run in several threads at once: one instance per call.
        return use_primary()


def primary_forced() -> bool:
    return _forced_primary.get() > 0


def record_write() -> None:
    """Note that the current request or task wrote: its later reads go to the primary."""
    state = _state.get()
    if state is not None:
        state.wrote = True


def read_alias(model: type[Any] | None) -> str:
    """The alias for a read of ``model`` right now; counts the decision."""
    replicas = conf.replica_aliases()
    if not replicas or not conf.reads_enabled():
        return _read_from(DEFAULT_DB_ALIAS)
    reason = primary_reason(model)
    if reason is not None:
        metrics.PINNED_READS.labels(reason).inc()
        return _read_from(primary_or_outage_replica(replicas))
    return _read_from(choose_replica(replicas) or primary_or_outage_replica(replicas))


def primary_reason(model: type[Any] | None) -> str | None:
    """Why this read must use the primary although replicas exist, or None."""
    if _forced_primary.get():
        return "use_primary"
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        # A transaction reads its own uncommitted writes, and select_for_update needs the primary.
        return "atomic"
    if model is not None and model._meta.label_lower in conf.primary_models():
        return "primary_model"
    state = _state.get()
    if state is None:
        return None
    if state.wrote:
        return "request_write"
    if state.client is not None:
        return state.client.pin_reason()
    return None


def choose_replica(replicas: list[str]) -> str | None:
    """A usable replica (sticky within a request, round-robin by weight across requests).

    None when no replica is usable; the fallback is counted with the first skipped one's state.
    """
    state = _state.get()
    if state is not None and state.replica in replicas and registry.health(state.replica).usable:
        return state.replica
    usable: list[str] = []
    skipped: list[str] = []
    for alias in replicas:
        health = registry.health(alias)
        if health.usable:
            usable.append(alias)
        else:
            skipped.append(health.state)
    if not usable:
        metrics.FALLBACKS.labels(f"replica_{skipped[0]}").inc()
        return None
    choice = _weighted_round_robin(usable)
    if state is not None:
        state.replica = choice
    return choice


def primary_or_outage_replica(replicas: list[str]) -> str:
    """The primary, or, while it is unreachable, a replica holding all it streamed out.

    A read that must see the newest data cannot get it from a primary that is down; the best
    that exists is a standby that replayed everything it received (after a clean shutdown that
    is every commit; after a crash, all but what asynchronous replication had not yet sent,
    which a promoted standby would not have either). Writes still fail, with a clean 503.
    """
    if not primary_unreachable():
        return DEFAULT_DB_ALIAS
    down_since = primary_status.down_since()
    for alias in replicas:
        if _outage_verdict(alias, down_since).serves_primary_outage:
            metrics.FALLBACKS.labels("primary_down").inc()
            return alias
    return DEFAULT_DB_ALIAS


# A standby still replaying what it received when the primary stopped is asked again this many
# times, this far apart: the remainder takes milliseconds (nothing new arrives), and without a
# second look its first verdict would refuse the outage's reads for a whole check interval.
# Bounded: a standby whose replay is paused is still refused, ~0.5 s later (0.2 s was too short
# on a loaded host: a read still found the last WAL replaying and got a 503).
OUTAGE_REPLAY_CHECKS = 10
OUTAGE_REPLAY_CHECK_SECONDS = 0.05


def _outage_verdict(alias: str, down_since: float | None) -> ReplicaHealth:
    health = registry.health(alias, taken_since=down_since)
    for _ in range(OUTAGE_REPLAY_CHECKS):
        if not health.replaying:
            break
        time.sleep(OUTAGE_REPLAY_CHECK_SECONDS)
        # A verdict taken from now on: a new probe, or one another request just took.
        health = registry.health(alias, taken_since=registry.timer())
    return health


def primary_unreachable() -> bool:
    """True when the primary was found down within the check interval, or is found so now.

    Checked only for reads about to use the primary, and cheaply: an open, health-checked
    connection is taken as working (a query failing on it is retried by the backend, see
    ``core.db.failover``); otherwise the connection is opened here, so a read never learns of
    the outage by failing.
    """
    if primary_status.down():
        return True
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block or connection.vendor != "postgresql":
        return False
    try:
        connection.close_if_health_check_failed()  # what the first query would do anyway
        connection.ensure_connection()
    except OperationalError as exc:
        primary_status.mark_down(one_line(exc, 200))
        return True
    primary_status.mark_up()
    return False


def _weighted_round_robin(aliases: list[str]) -> str:
    if len(aliases) == 1:
        return aliases[0]
    weights = conf.weights()
    ring = [alias for alias in aliases for _ in range(max(0, int(weights.get(alias, 1))))]
    ring = ring or aliases
    return ring[next(_round_robin) % len(ring)]


def _read_from(alias: str) -> str:
    metrics.READS.labels(alias).inc()
    return alias
