"""The faults of a real deployment, each done to a running :class:`ProductionStack`, and how
long each lasts (:class:`Timing`)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.chaos.workload import WRITES, Sample
from devstack.topology import ProductionStack
from tests.e2e.http_load import request


@dataclass
class Timing:
    """How long each fault lasts and how long the load goes on around it (seconds)."""

    before: float
    hold: float
    after: float
    lag_hold: float  # replay paused: past the lag budget and a health check or two
    concurrency: int
    max_requests: int  # per phase, a bound on top of the time
    # From the primary's SIGKILL to the operator's promote command (detection, a decision).
    promote_after: float = 1.0

    @classmethod
    def short(cls) -> Timing:
        return cls(before=1.0, hold=2.5, after=2.0, lag_hold=6.0, concurrency=4, max_requests=3000)

    @classmethod
    def full(cls) -> Timing:
        return cls(
            before=5.0, hold=15.0, after=8.0, lag_hold=15.0, concurrency=8, max_requests=30000,
            promote_after=5.0,
        )  # fmt: skip


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _ready(stack: ProductionStack) -> bool:
    return all(
        request(backend.url, "/readyz", timeout=5).status == 200 for backend in stack.backends
    )


# The bound: after a promotion, writes are acknowledged again within this many seconds.
WRITES_BACK_WITHIN_SECONDS = 15.0


def fault_none(stack: ProductionStack, timing: Timing) -> None:
    time.sleep(timing.hold)


def fault_replica_restart(stack: ProductionStack, timing: Timing) -> None:
    cluster = stack.servers.postgres
    cluster.stop_replica(1)
    time.sleep(timing.hold)
    cluster.start_replica(1)
    cluster.wait_for_replay(timeout=30)


def fault_replay_paused(stack: ProductionStack, timing: Timing) -> None:
    cluster = stack.servers.postgres
    cluster.pause_replay(1)
    time.sleep(timing.lag_hold)
    cluster.resume_replay(1)
    cluster.wait_for_replay(timeout=30)


def fault_redis_restart(stack: ProductionStack, timing: Timing) -> None:
    """All of the cache's Redis down for a while: with Sentinel, master and replica both (the
    sentinels find no replica to promote, and the master comes back as master)."""
    if stack.sentinel is None:
        servers = [stack.servers.redis]
    else:
        servers = [stack.sentinel.master(), stack.sentinel.replica()]
    for server in servers:
        server.stop()
    time.sleep(timing.hold)
    for server in servers:
        server.start()


def fault_redis_failover(stack: ProductionStack, timing: Timing) -> None:
    """SIGKILL the Redis master; the sentinels promote the replica, the app follows it; then
    the old master comes back empty and the sentinels make it the new master's replica."""
    group = stack.sentinel
    if group is None:
        raise RuntimeError("the redis-failover phase needs ProductionStack(redis_failover=True)")
    old = group.kill_master()
    group.wait_for_failover(old, timeout=30)
    time.sleep(timing.hold)
    group.rejoin(old, timeout=60)


def fault_backend_killed(stack: ProductionStack, timing: Timing) -> None:
    victim = stack.backends[1]
    victim.terminate()  # `kill PID`: what systemd, docker stop and Kubernetes send
    _wait(lambda: not victim.running, 30)
    victim.stop()
    time.sleep(timing.hold)
    victim.start()


def fault_reloads(stack: ProductionStack, timing: Timing) -> None:
    stack.backends[0].reload()  # kill -HUP: new workers, the old ones finish
    time.sleep(timing.hold / 2)
    stack.nginx.reload()  # nginx -s reload
    time.sleep(timing.hold / 2)


def fault_primary_restart(stack: ProductionStack, timing: Timing) -> None:
    cluster = stack.servers.postgres
    cluster.generation += 1
    cluster.primary.stop("fast")
    time.sleep(timing.hold)
    cluster.primary.start(30)
    _wait(lambda: _ready(stack), 30)


def fault_primary_failover(stack: ProductionStack, timing: Timing) -> dict[str, Any]:
    """SIGKILL the primary (every process of it, as a host crash), promote the standby with the
    operator's command, then rejoin the old primary as a standby (pg_rewind).

    Synchronous replication for this phase: an acknowledged commit is on the standby's disk,
    which is what makes "0 acknowledged writes lost" a promise rather than luck.
    """
    assert stack.servers is not None
    cluster = stack.servers.postgres
    if not cluster.synchronous:
        cluster.enable_synchronous()
    time.sleep(timing.before)  # acknowledged writes under synchronous commits
    old = cluster.primary
    assert old is not None and old._process is not None
    cluster.generation += 1
    killed_at = time.monotonic()
    old._process.kill_group(signal.SIGKILL)
    time.sleep(timing.promote_after)
    stack.promote(1)
    promoted_at = time.monotonic()
    time.sleep(timing.hold)
    rejoin_started_at = time.monotonic()
    stack.rejoin(1)
    rejoined_at = time.monotonic()
    rejoined, new = cluster.replica(1), cluster.primary
    assert new is not None
    return {
        "killed_at": killed_at,
        "promoted_at": promoted_at,
        "rejoin_started_at": rejoin_started_at,
        "rejoined_at": rejoined_at,
        "old_primary_port": old.port,
        "new_primary_port": new.port,
        "old_primary_is_standby": bool(rejoined.query("SELECT pg_is_in_recovery()")[0][0]),
        "standby_streaming": bool(new.query("SELECT count(*) FROM pg_stat_replication")[0][0]),
    }


def failover_figures(samples: list[Sample], marks: dict[str, Any]) -> dict[str, Any]:
    """How long writes were out, from the kill and from the promotion: the first acknowledged
    write answered after the promotion (writes answered before it, after the kill, count as
    failed or as acknowledged by the dead primary before it died)."""
    killed_at, promoted_at = marks["killed_at"], marks["promoted_at"]
    back = [
        s.at
        for s in samples
        if s.phase == PRIMARY_FAILOVER and s.op in WRITES and s.status is not None
        and s.status < 300 and s.at > promoted_at
    ]  # fmt: skip
    first = min(back) if back else None
    # A request with no answer, placed on the fault's timeline (when it was sent, seconds from
    # the kill), to tell which step of the failover it waited on.
    unanswered = [
        {
            "op": s.op,
            "sent_after_kill_s": round(s.at - s.seconds - killed_at, 2),
            **{
                f"sent_after_{mark[:-3]}_s": round(s.at - s.seconds - marks[mark], 2)
                for mark in ("promoted_at", "rejoin_started_at", "rejoined_at")
                if mark in marks
            },
            "error": s.error,
        }
        for s in samples
        if s.phase == PRIMARY_FAILOVER and s.status is None
    ]
    return {
        "unanswered": unanswered,
        "writes_back_after_kill_seconds": None if first is None else round(first - killed_at, 2),
        "writes_back_after_promote_seconds": (
            None if first is None else round(first - promoted_at, 2)
        ),
        **{k: v for k, v in marks.items() if not k.endswith("_at")},
    }


FAULTS: list[tuple[str, str, Callable[[ProductionStack, Timing], dict[str, Any] | None]]] = [
    ("baseline", "no fault", fault_none),
    ("replica-restart", "the replica stopped, then started again", fault_replica_restart),
    ("replay-paused", "replica replay paused past the lag budget", fault_replay_paused),
    ("redis-restart", "Redis (cache) stopped, then started again", fault_redis_restart),
    (
        "redis-failover",
        "the Redis master SIGKILLed; Sentinel promotes its replica; the old one rejoins",
        fault_redis_failover,
    ),
    ("backend-killed", "one backend killed (SIGTERM), then started", fault_backend_killed),
    ("reloads", "gunicorn HUP, then nginx reload", fault_reloads),
    ("primary-restart", "the primary stopped, then started again", fault_primary_restart),
]
PRIMARY_OUTAGE = "primary-restart"
PRIMARY_FAILOVER = "primary-failover"
FAILOVER = (
    PRIMARY_FAILOVER,
    "the primary killed (SIGKILL), the standby promoted, the old primary rejoined",
    fault_primary_failover,
)
# `make chaos` and `--short`: every fault, the failover last (it leaves the roles swapped).
ALL_FAULTS = [*FAULTS, FAILOVER]
# Where writes may fail, and only cleanly (503 + Retry-After).
WRITE_OUTAGES = (PRIMARY_OUTAGE, PRIMARY_FAILOVER)
