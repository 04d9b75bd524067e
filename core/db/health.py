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

import psycopg
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from core.db import conf, metrics

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

    @property
    def usable(self) -> bool:
        return self.state == OK


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

    def health(self, alias: str) -> ReplicaHealth:
        """Return the cached verdict, probing first when it is older than the interval."""
        slot = self._slot(alias)
        current = slot.health
        if current is not None and self._fresh(current):
            return current
        # First check ever: wait for it. Later ones: whoever holds the lock probes.
        if not slot.lock.acquire(blocking=current is None):
            return current  # type: ignore[return-value]
        try:
            if slot.health is not None and slot.health is not current and self._fresh(slot.health):
                return slot.health
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

    def _fresh(self, health: ReplicaHealth) -> bool:
        return self.timer() - health.checked_at < conf.health_check_seconds()

    def probe(self, alias: str) -> ReplicaHealth:
        """Check ``alias`` now, on a connection of its own, and return the verdict."""
        metrics.HEALTH_CHECKS.labels(alias).inc()
        connection = connections[alias]
        if connection.vendor != "postgresql":
            # Nothing to measure: a non-PostgreSQL "replica" is taken as healthy.
            return ReplicaHealth(alias, OK, None, self.timer())
        try:
            in_recovery, lag = self._sample(connection)
            if in_recovery and lag is not None and lag > conf.max_lag_seconds():
                time.sleep(RESAMPLE_DELAY_SECONDS)
                in_recovery, lag = self._sample(connection)
        except psycopg.Error as exc:
            return ReplicaHealth(alias, DOWN, None, self.timer(), _one_line(exc))
        if not in_recovery:
            return ReplicaHealth(alias, PROMOTED, None, self.timer(), "not in recovery")
        if lag is None:
            return ReplicaHealth(alias, LAGGING, None, self.timer(), "lag unknown")
        if lag > conf.max_lag_seconds():
            detail = f"lag {lag:.2f}s > {conf.max_lag_seconds():g}s"
            return ReplicaHealth(alias, LAGGING, lag, self.timer(), detail)
        return ReplicaHealth(alias, OK, lag, self.timer())

    @staticmethod
    def _sample(connection: BaseDatabaseWrapper) -> tuple[bool, float | None]:
        with psycopg.connect(**probe_params(connection)) as conn:
            row = conn.execute(LAG_SQL).fetchone()
        assert row is not None
        in_recovery, caught_up, replay_age, receiving = row
        if caught_up and receiving:
            return bool(in_recovery), 0.0
        return bool(in_recovery), None if replay_age is None else max(0.0, float(replay_age))

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


def probe_params(connection: BaseDatabaseWrapper) -> dict:
    """Connection parameters of a Django alias, with short connect and statement timeouts."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    timeout = conf.probe_timeout_seconds()
    params["connect_timeout"] = max(1, int(timeout))
    params["autocommit"] = True
    options = params.get("options", "")
    params["options"] = f"{options} -c statement_timeout={int(timeout * 1000)}".strip()
    return params


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _lag(health: ReplicaHealth) -> str:
    return "unknown" if health.lag_seconds is None else f"{health.lag_seconds:.2f}s"


registry = ReplicaHealthRegistry()
