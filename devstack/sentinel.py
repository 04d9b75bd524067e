"""Redis with failover on loopback: a master, its replica and three Redis Sentinels.

    with SentinelRedis() as group:
        group.env()  # {"REDIS_SENTINELS": "127.0.0.1:p1,...", "REDIS_SENTINEL_MASTER": ...}
        old = group.kill_master()   # SIGKILL the current master
        group.wait_for_failover(old)  # the sentinels promoted the replica

Three sentinels with a quorum of two, as in production: one sentinel alone may not declare the
master dead, and a failover needs a majority to elect a leader. They declare it dead after
``down_after_ms`` without an answer (production: a few seconds; here short so tests are quick).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from devstack.binaries import redis_sentinel_binary
from devstack.processes import (
    LOOPBACK,
    ManagedProcess,
    ServerStartError,
    forget_at_exit,
    free_port,
    make_temp_base_dir,
    remove_tree,
    stop_at_exit,
)
from devstack.redis import RedisServer

MASTER_NAME = "myhibachi"
SENTINELS = 3
QUORUM = 2


class SentinelServer:
    """One ``redis-sentinel`` process; it rewrites its own config file, so each has a copy."""

    def __init__(self, *, base_dir: Path, binary: Path | None = None) -> None:
        self.binary = binary or redis_sentinel_binary()
        self.base_dir = base_dir
        self.port: int | None = None
        self._process: ManagedProcess | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, *, master_name: str, master_port: int, settings: dict[str, int]) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        config = self.base_dir / "sentinel.conf"
        lines = [
            f"bind {LOOPBACK}",
            f"port {self.port}",
            "daemonize no",
            "protected-mode no",
            f"dir {self.base_dir}",
            f"sentinel monitor {master_name} {LOOPBACK} {master_port} {QUORUM}",
            *(f"sentinel {key} {master_name} {value}" for key, value in settings.items()),
        ]
        config.write_text("\n".join(lines) + "\n")
        self._process = ManagedProcess(
            [str(self.binary), str(config)], log_path=self.base_dir / "sentinel.log"
        )
        self._process.start()

    def client(self) -> redis.Redis:
        assert self.port is not None
        return redis.Redis(
            host=LOOPBACK, port=self.port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )

    def log_tail(self) -> str:
        return self._process.log_tail() if self._process is not None else ""

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None


class SentinelRedis:
    """A Redis master, one replica and three sentinels watching them, all on loopback."""

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        master_name: str = MASTER_NAME,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
        extra_args: list[str] | None = None,
        keep_files: bool = False,
    ) -> None:
        self._own_base_dir = base_dir is None
        self.base_dir = Path(base_dir or make_temp_base_dir("myhibachi-sentinel-"))
        self.master_name = master_name
        self.keep_files = keep_files
        self.sentinel_settings = {
            "down-after-milliseconds": down_after_ms,
            "failover-timeout": failover_timeout_ms,
            "parallel-syncs": 1,
        }
        # A replica (the first, and the old master when it rejoins) is synced at once, not after
        # the default 5 s wait for more replicas to share one diskless transfer.
        self.extra_args = ["--repl-diskless-sync-delay", "0", *(extra_args or [])]
        # servers[0] starts as the master; their roles change with each failover.
        self.servers = [
            RedisServer(base_dir=self.base_dir / f"redis-{n}", extra_args=list(self.extra_args))
            for n in (1, 2)
        ]
        self.sentinels = [
            SentinelServer(base_dir=self.base_dir / f"sentinel-{n}")
            for n in range(1, SENTINELS + 1)
        ]

    def __enter__(self) -> SentinelRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self.cleanup()

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30) -> SentinelRedis:
        stop_at_exit(self)
        master, replica = self.servers
        master.start()
        assert master.port is not None
        replica.extra_args = [*self.extra_args, "--replicaof", LOOPBACK, str(master.port)]
        replica.start()
        for sentinel in self.sentinels:
            sentinel.start(
                master_name=self.master_name,
                master_port=master.port,
                settings=self.sentinel_settings,
            )
        self._wait(self._replica_in_sync, timeout, "the replica did not sync with the master")
        self._wait(self._sentinels_agree, timeout, "the sentinels did not find each other")
        return self

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers:
            server.stop()
        forget_at_exit(self)

    def cleanup(self) -> None:
        if self._own_base_dir and not self.keep_files:
            remove_tree(self.base_dir)

    # ------------------------------------------------------------------ what the app reads
    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [(LOOPBACK, s.port) for s in self.sentinels if s.port is not None]

    def env(self) -> dict[str, str]:
        """What the settings read: the sentinels and the master's name (REDIS_URL then defaults
        to the URL that names it)."""
        return {
            "REDIS_SENTINELS": ",".join(f"{h}:{p}" for h, p in self.sentinel_addresses),
            "REDIS_SENTINEL_MASTER": self.master_name,
        }

    # ------------------------------------------------------------------ roles and faults
    def master_port(self) -> int | None:
        """The master's port as the first sentinel that answers says."""
        for sentinel in self.sentinels:
            with contextlib.suppress(redis.RedisError):
                return self._master_port_from(sentinel)
        return None

    def master(self) -> RedisServer:
        port = self.master_port()
        return next(s for s in self.servers if s.port == port)

    def replica(self) -> RedisServer:
        port = self.master_port()
        return next(s for s in self.servers if s.port != port)

    def kill_master(self) -> RedisServer:
        """SIGKILL the current master (not restarted: see ``rejoin``) and return it."""
        victim = self.master()
        victim.kill()
        return victim

    def wait_for_failover(self, old: RedisServer, timeout: float = 30) -> RedisServer:
        """Until every sentinel names another server as master, and that server says it is."""

        def promoted() -> bool:
            ports = set()
            for sentinel in self.sentinels:
                try:
                    ports.add(self._master_port_from(sentinel))
                except redis.RedisError:
                    return False
            if len(ports) != 1 or old.port in ports:
                return False
            new = next(s for s in self.servers if s.port in ports)
            try:
                return new.client().info("replication")["role"] == "master"
            except redis.RedisError:
                return False

        self._wait(promoted, timeout, "the sentinels did not promote the replica")
        return self.master()

    def rejoin(self, old: RedisServer, timeout: float = 30) -> None:
        """Start the old master again (empty); the sentinels turn it into a replica of the new
        master, which it then copies."""
        old.start()

        def replicating() -> bool:
            try:
                info = old.client().info("replication")
            except redis.RedisError:
                return False
            return info["role"] == "slave" and info.get("master_link_status") == "up"

        self._wait(replicating, timeout, "the old master did not rejoin as a replica")

    def _master_port_from(self, sentinel: SentinelServer) -> int:
        address = sentinel.client().sentinel_get_master_addr_by_name(self.master_name)
        _, port = cast("tuple[str, int]", address)
        return int(port)

    # ------------------------------------------------------------------ waiting
    def _replica_in_sync(self) -> bool:
        return self._replica_in_sync_with(self.servers[1])()

    def _replica_in_sync_with(self, replica: RedisServer):  # type: ignore[no-untyped-def]
        def in_sync() -> bool:
            try:
                info = replica.client().info("replication")
            except redis.RedisError:
                return False
            return info.get("master_link_status") == "up"

        return in_sync

    def _sentinels_agree(self) -> bool:
        """Every sentinel knows the master, the replica and the two other sentinels."""
        for sentinel in self.sentinels:
            try:
                state = cast("dict[str, Any]", sentinel.client().sentinel_master(self.master_name))
            except redis.RedisError:
                return False
            if int(state.get("num-other-sentinels", 0)) < SENTINELS - 1:
                return False
            if int(state.get("num-slaves", 0)) < 1:
                return False
        return True

    def _wait(self, predicate, timeout: float, message: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        logs = "\n".join(s.log_tail() for s in self.sentinels)
        raise ServerStartError(f"{message} within {timeout}s:\n{logs}")
