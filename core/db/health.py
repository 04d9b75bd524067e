"""Replica health and replication lag, checked at most once per interval per process.

A check opens its own short connection to the replica (never a request's connection) and asks::

    pg_is_in_recovery()                 -- false: the replica was promoted, it is a primary now
    pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()
                                        -- everything received is replayed (after a restart
                                           the receive position restarts at a segment start,
                                           behind the replay position: hence <=, not =)
    now() - pg_last_xact_replay_timestamp()
                                        -- age of the newest replayed commit
    pg_stat_wal_receiver                -- is the standby connected to its primary

Lag budget: ``now() - pg_last_xact_replay_timestamp()`` alone grows while the primary is idle,
so a caught-up, connected standby counts as lag 0; otherwise the lag is the age of the newest
replayed commit. Right after an idle spell the first new commit makes that age look large for
the few milliseconds it takes to replay it, so a lagging sample is taken once more before it
is believed. A replica is skipped when down, promoted, or lagging more than
``REPLICA_MAX_LAG_SECONDS``; the result is cached for ``REPLICA_HEALTH_CHECK_SECONDS``, so a
client may see up to (max lag + interval) of staleness on an accepted replica, which is why
``REPLICA_PIN_SECONDS`` defaults to a little more than their sum.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from core.db import conf, metrics
from core.observability.logging import one_line

logger = logging.getLogger(__name__)

OK, DOWN, LAGGING, PROMOTED = "ok", "down", "lagging", "promoted"

LAG_SQL = """
SELECT pg_is_in_recovery(),
       pg_last_wal_receive_lsn() IS NOT NULL
           AND pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn(),
       EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8,
       EXISTS (SELECT 1 FROM pg_stat_wal_receiver)
"""
RESAMPLE_DELAY_SECONDS = 0.02


@dataclass(frozen=True)
class ReplicaHealth:
    """One check's verdict: ``state`` is ok, down, lagging or promoted."""

    alias: str
    state: str
    lag_seconds: float | None = None
    checked_at: float = 0.0
    detail: str = ""
    # Everything the standby received is replayed: while the primary is down, it then holds all
    # the primary managed to stream to it (see ``serves_primary_outage``).
    replayed_all: bool = False

    @property
    def usable(self) -> bool:
        return self.state == OK

    @property
    def serves_primary_outage(self) -> bool:
        """Readable while the primary is unreachable: up, still a standby, nothing received left
        to replay. Its replay age grows with the outage (no new commits can arrive), so it is
        "lagging" by the clock yet as fresh as anything that exists; one that is behind what it
        received (replay paused) is not used, however small its lag.

        Or promoted: once the operator promoted it (docs/failover.md), it is the new primary and
        holds every acknowledged write; until this process's primary check interval ends, reads
        meant for the primary go to it through this alias rather than fail."""
        if self.state == PROMOTED:
            return True
        return self.state in (OK, LAGGING) and self.replayed_all

    @property
    def replaying(self) -> bool:
        """Up and a standby, with WAL it received still to replay: right after the primary
        stops, the last WAL it sent is usually still being replayed, for a few milliseconds."""
        return self.state in (OK, LAGGING) and not self.replayed_all


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    health: ReplicaHealth | None = None


class ReplicaHealthRegistry:
    """Per-process cache of replica health; ``health()`` probes when the entry is stale.

    One thread probes a stale replica while the others keep using the previous verdict, so a
    slow or hanging replica costs one request the probe timeout, not every request.
    """

    timer = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}
        self._slots_lock = threading.Lock()

    def _slot(self, alias: str) -> _Slot:
        slot = self._slots.get(alias)
        if slot is None:
            with self._slots_lock:
                slot = self._slots.setdefault(alias, _Slot())
        return slot

    def health(self, alias: str, taken_since: float | None = None) -> ReplicaHealth:
        """Return the cached verdict, probing first when it is older than the interval.

        ``taken_since`` (a ``timer()`` value): a verdict taken before it does not count, and the
        caller waits for a new one (the primary's outage: a verdict from before it says
        nothing of what the replica holds now).
        """
        slot = self._slot(alias)
        current = slot.health
        if current is not None and self._fresh(current, taken_since):
            return current
        # First check ever, or one that must be new: wait for it. Others: whoever holds the lock
        # probes, the rest keep the previous verdict.
        if not slot.lock.acquire(blocking=current is None or taken_since is not None):
            return current  # type: ignore[return-value]
        try:
            latest = slot.health
            if latest is not None and latest is not current and self._fresh(latest, taken_since):
                return latest
            return self._record(slot, self.probe(alias))
        finally:
            slot.lock.release()

    def cached(self, alias: str) -> ReplicaHealth | None:
        return self._slot(alias).health

    def mark_down(self, alias: str, detail: str) -> None:
        """Skip ``alias`` until the next check interval (a query on it just failed)."""
        # Not under the probe lock: a request must not wait for another thread's probe here.
        slot = self._slot(alias)
        self._record(slot, ReplicaHealth(alias, DOWN, None, self.timer(), detail))

    def refresh(self, alias: str) -> ReplicaHealth:
        """Probe now regardless of the cache, and store the result."""
        slot = self._slot(alias)
        with slot.lock:
            return self._record(slot, self.probe(alias))

    def reset(self) -> None:
        """Forget every verdict (tests; a settings change)."""
        with self._slots_lock:
            self._slots = {}

    def _fresh(self, health: ReplicaHealth, taken_since: float | None = None) -> bool:
        if taken_since is not None and health.checked_at < taken_since:
            return False
        return self.timer() - health.checked_at < conf.health_check_seconds()

    def probe(self, alias: str) -> ReplicaHealth:
        """Check ``alias`` now, on a connection of its own, and return the verdict."""
        metrics.HEALTH_CHECKS.labels(alias).inc()
        connection = connections[alias]
        if connection.vendor != "postgresql":
            # Nothing to measure: a non-PostgreSQL "replica" is taken as healthy.
            return ReplicaHealth(alias, OK, None, self.timer())
        try:
            in_recovery, lag, replayed_all = self._sample(connection)
            if in_recovery and lag is not None and lag > conf.max_lag_seconds():
                time.sleep(RESAMPLE_DELAY_SECONDS)
                in_recovery, lag, replayed_all = self._sample(connection)
        except psycopg.Error as exc:
            return ReplicaHealth(alias, DOWN, None, self.timer(), one_line(exc))
        if not in_recovery:
            return ReplicaHealth(alias, PROMOTED, None, self.timer(), "not in recovery")
        if lag is None:
            return ReplicaHealth(alias, LAGGING, None, self.timer(), "lag unknown", replayed_all)
        if lag > conf.max_lag_seconds():
            detail = f"lag {lag:.2f}s > {conf.max_lag_seconds():g}s"
            return ReplicaHealth(alias, LAGGING, lag, self.timer(), detail, replayed_all)
        return ReplicaHealth(alias, OK, lag, self.timer(), replayed_all=replayed_all)

    @staticmethod
    def _sample(connection: BaseDatabaseWrapper) -> tuple[bool, float | None, bool]:
        """(in recovery, lag or None when unknown, everything received is replayed)."""
        with psycopg.connect(**probe_params(connection)) as conn:
            row = conn.execute(LAG_SQL).fetchone()
        assert row is not None
        in_recovery, caught_up, replay_age, receiving = row
        if caught_up and receiving:
            return bool(in_recovery), 0.0, True
        lag = None if replay_age is None else max(0.0, float(replay_age))
        return bool(in_recovery), lag, bool(caught_up)

    def _record(self, slot: _Slot, new: ReplicaHealth) -> ReplicaHealth:
        previous = slot.health
        slot.health = new
        metrics.REPLICA_USABLE.labels(new.alias).set(1 if new.usable else 0)
        if new.lag_seconds is not None:
            metrics.REPLICA_LAG.labels(new.alias).set(new.lag_seconds)
        if previous is None or previous.state != new.state:
            if new.usable:
                log = logger.info if previous is None else logger.warning
                log("replica %s is usable (lag %s); reads go to it", new.alias, _lag(new))
            else:
                logger.warning(
                    "replica %s is %s (%s); reads skip it", new.alias, new.state, new.detail
                )
        return new


def probe_params(connection: BaseDatabaseWrapper) -> dict[str, Any]:
    """Connection parameters of a Django alias, with short connect and statement timeouts."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    timeout = conf.probe_timeout_seconds()
    params["connect_timeout"] = max(1, int(timeout))
    params["autocommit"] = True
    if connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        # Behind PgBouncer (core/db/urls.py): 1.18 refuses the ``options`` startup parameter,
        # and a session-level SET would stay on a server connection other clients then get.
        # The probes are single catalog reads that take microseconds; the connect timeout
        # still bounds an unreachable server.
        return params
    options = params.get("options", "")
    params["options"] = f"{options} -c statement_timeout={int(timeout * 1000)}".strip()
    return params


def _lag(health: ReplicaHealth) -> str:
    return "unknown" if health.lag_seconds is None else f"{health.lag_seconds:.2f}s"


class PrimaryStatus:
    """Per process: is the primary known to be unreachable?

    Marked down by a failed connect or query on the primary (``core.db.failover``); while it is
    down, reads that would go to the primary use a replica that ``serves_primary_outage``
    instead of paying a failed connect each. After ``REPLICA_HEALTH_CHECK_SECONDS`` the next
    read tries the primary again: it is marked up when that works, down again when not.
    """

    timer = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self._down_at: float | None = None
        self._lock = threading.Lock()

    def down(self) -> bool:
        """Marked down less than one check interval ago."""
        down_at = self._down_at
        return down_at is not None and self.timer() - down_at < conf.health_check_seconds()

    def down_since(self) -> float | None:
        """When it was last marked down (``timer()``), None when it answers."""
        return self._down_at

    def marked_down(self) -> bool:
        """Marked down and not seen answering since (the interval may have passed)."""
        return self._down_at is not None

    def mark_down(self, detail: str) -> None:
        with self._lock:
            was_down, self._down_at = self._down_at is not None, self.timer()
        metrics.PRIMARY_UNREACHABLE.set(1)
        if not was_down:
            logger.warning("primary is unreachable (%s); reads use a replica", detail)

    def mark_up(self) -> None:
        if self._down_at is None:
            return
        with self._lock:
            was_down, self._down_at = self._down_at is not None, None
        metrics.PRIMARY_UNREACHABLE.set(0)
        if was_down:
            logger.warning("primary answers again; reads may use it")

    def reset(self) -> None:
        with self._lock:
            self._down_at = None


registry = ReplicaHealthRegistry()
primary_status = PrimaryStatus()
