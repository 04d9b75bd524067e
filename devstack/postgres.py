"""A throwaway PostgreSQL primary with hot-standby streaming replicas, on loopback ports.

The cluster lives in a temporary directory and is tuned for tests, not durability
(``fsync = off``). Replicas are made with ``pg_basebackup -R -X stream`` exactly as in
production, so replication lag, paused replay and a stopped standby are the real thing.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg

from devstack.binaries import postgres_bin_dir
from devstack.processes import (
    LOOPBACK,
    ManagedProcess,
    ServerStartError,
    chown_tree,
    forget_at_exit,
    free_port,
    make_owned_dir,
    make_temp_base_dir,
    remove_tree,
    run_tool,
    server_user,
    stop_at_exit,
)

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"
PORT_ATTEMPTS = 3

# Written into the primary's postgresql.conf; pg_basebackup copies it to every replica.
CLUSTER_SETTINGS: dict[str, str] = {
    "listen_addresses": f"'{LOOPBACK}'",
    "unix_socket_directories": "''",
    # Throwaway data: skip the disk flushes, which is most of PostgreSQL's write cost.
    "fsync": "off",
    # pg_rewind (the old primary's rejoin after a failover, devstack/failover.py)
    # needs both: hint-bit changes in the WAL, and full pages after each checkpoint.
    "full_page_writes": "on",
    "wal_log_hints": "on",
    "wal_level": "replica",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    # Enough WAL kept for a stopped replica to catch up without a replication slot.
    "wal_keep_size": "'256MB'",
    "hot_standby": "on",
    "hot_standby_feedback": "on",
    "wal_receiver_status_interval": "'1s'",
    # A replica reconnects quickly after the primary restarts.
    "wal_retrieve_retry_interval": "'200ms'",
    "max_connections": "200",
    "shared_buffers": "'64MB'",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] '",
}
PG_HBA = f"""\
local all all trust
host all all {LOOPBACK}/32 trust
host replication all {LOOPBACK}/32 trust
"""
# Synchronous replication, when asked for (PostgresCluster(synchronous=True)): a commit returns
# once one standby has flushed its WAL. "*": any standby, whichever node is primary now.
SYNCHRONOUS_SETTINGS: dict[str, str] = {
    "synchronous_standby_names": "'*'",
    "synchronous_commit": "on",
}
STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}


class PortInUse(ServerStartError):
    pass


class PostgresServer:
    """One postmaster (the primary or a replica) running from ``data_dir`` on ``port``."""

    def __init__(
        self,
        *,
        name: str,
        data_dir: Path,
        port: int,
        bin_dir: Path,
        user: Any,
        log_path: Path,
    ) -> None:
        self.name = name
        self.data_dir = data_dir
        self.port = port
        self.bin_dir = bin_dir
        self.user = user
        self.log_path = log_path
        self._process: ManagedProcess | None = None

    def __repr__(self) -> str:
        return f"<PostgresServer {self.name} port={self.port} running={self.running}>"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def url(self, dbname: str) -> str:
        return f"postgres://{SUPERUSER}@{LOOPBACK}:{self.port}/{dbname}"

    def start(self, timeout: float = 30) -> None:
        if self.running:
            return
        argv = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            f"cluster_name=myhibachi-{self.name}",
        ]
        self._process = ManagedProcess(
            argv,
            log_path=self.log_path,
            user=self.user,
            stop_signal=STOP_SIGNALS["fast"],
            kill_signal_on_parent_death=STOP_SIGNALS["immediate"],
        )
        self._process.start()
        try:
            self._wait_ready(timeout)
        except ServerStartError:
            self._process.stop(STOP_SIGNALS["immediate"])
            self._process = None
            raise

    def stop(self, mode: str = "fast", timeout: float = 30) -> None:
        """Stop the server: ``fast`` (disconnect clients, checkpoint) or ``immediate``."""
        if self._process is not None:
            self._process.stop(STOP_SIGNALS[mode], timeout)
            self._process = None

    def _wait_ready(self, timeout: float) -> None:
        """Poll a connection until the server answers, bounded by ``timeout`` seconds."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if not self._process.alive():
                tail = self._process.log_tail()
                error = PortInUse if "could not bind" in tail or "in use" in tail else None
                raise (error or ServerStartError)(
                    f"PostgreSQL {self.name} exited with status {self._process.exit_code()} "
                    f"while starting on port {self.port}:\n{tail}"
                )
            try:
                with self.connect(connect_timeout=1) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last_error = exc
                time.sleep(0.05)
        raise ServerStartError(
            f"PostgreSQL {self.name} did not accept connections on port {self.port} within "
            f"{timeout}s (last error: {last_error}):\n{self._process.log_tail()}"
        )

    def connect(self, dbname: str = "postgres", connect_timeout: int = 5) -> psycopg.Connection:
        """A new autocommit superuser connection (the caller closes it)."""
        return psycopg.connect(
            host=LOOPBACK,
            port=self.port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=connect_timeout,
        )

    def query(self, sql: str, params: Sequence[Any] = (), dbname: str = "postgres") -> list[tuple]:
        with self.connect(dbname) as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []


class PostgresCluster:
    """A primary and ``replicas`` hot standbys; replicas are numbered from 1 like the aliases.

    Usage::

        with PostgresCluster(replicas=1) as cluster:
            cluster.url("default")      # postgres://postgres@127.0.0.1:PORT/myhibachi
            cluster.url("replica_1")    # the standby, same database name
            cluster.pause_replay(1)
    """

    def __init__(
        self,
        *,
        replicas: int = 1,
        database: str = "myhibachi",
        base_dir: Path | None = None,
        bin_dir: Path | None = None,
        settings: dict[str, str] | None = None,
        keep_files: bool = False,
        synchronous: bool = False,
    ) -> None:
        self.replica_count = replicas
        self.synchronous = synchronous
        self.database = database
        self.bin_dir = bin_dir or postgres_bin_dir()
        self.user = server_user()
        self._own_base_dir = base_dir is None
        self.base_dir = Path(base_dir or make_temp_base_dir("myhibachi-pg-"))
        self.settings = {**CLUSTER_SETTINGS, **(settings or {})}
        self.keep_files = keep_files
        self.primary: PostgresServer | None = None
        self.replicas: list[PostgresServer] = []
        self._paused: set[int] = set()
        # Bumped on every stop/start after start-up: clients holding connections may reconnect.
        self.generation = 0

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 30) -> PostgresCluster:
        """initdb, start the primary, create the database, clone and start the replicas."""
        stop_at_exit(self)
        try:
            make_owned_dir(self.base_dir, self.user)
            self.primary = self._init_primary(timeout)
            self.primary.query(f'CREATE DATABASE "{self.database}"')
            for index in range(1, self.replica_count + 1):
                self.replicas.append(self._clone_replica(index, timeout))
            if self.synchronous:
                self.enable_synchronous()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server (replicas first) and remove the files unless ``keep_files``."""
        for replica in self.replicas:
            replica.stop("immediate")
        if self.primary is not None:
            self.primary.stop("immediate")
        if self._own_base_dir and not self.keep_files:
            remove_tree(self.base_dir)
        forget_at_exit(self)

    def _init_primary(self, timeout: float) -> PostgresServer:
        data_dir = self.base_dir / "primary"
        run_tool(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            user=self.user,
        )
        with open(data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# devstack: a throwaway test cluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in self.settings.items())
        (data_dir / "pg_hba.conf").write_text(PG_HBA)
        chown_tree(data_dir, self.user)
        return self._start_on_free_port("primary", data_dir, timeout)

    def enable_synchronous(self) -> None:
        """Synchronous commits on every node, once a standby exists (before, each commit would
        wait forever for one). A standby ignores the setting until it is promoted."""
        self.synchronous = True
        for server in self.servers():
            with open(server.data_dir / "postgresql.conf", "a") as conf:
                conf.writelines(f"{key} = {value}\n" for key, value in SYNCHRONOUS_SETTINGS.items())
            server.query("SELECT pg_reload_conf()")
        assert self.primary is not None
        self._wait(
            lambda: (
                self.primary.query(  # type: ignore[union-attr]
                    "SELECT count(*) FROM pg_stat_replication "
                    "WHERE sync_state IN ('sync', 'quorum')"
                )[0][0]
                >= 1
            ),
            30,
            "a synchronous standby",
        )

    def _clone_replica(self, index: int, timeout: float) -> PostgresServer:
        assert self.primary is not None
        data_dir = self.base_dir / f"replica_{index}"
        run_tool(
            [
                str(self.bin_dir / "pg_basebackup"),
                "-h",
                LOOPBACK,
                "-p",
                str(self.primary.port),
                "-U",
                SUPERUSER,
                "-D",
                str(data_dir),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ],
            user=self.user,
        )
        return self._start_on_free_port(f"replica_{index}", data_dir, timeout)

    def _start_on_free_port(self, name: str, data_dir: Path, timeout: float) -> PostgresServer:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            server = PostgresServer(
                name=name,
                data_dir=data_dir,
                port=free_port(),
                bin_dir=self.bin_dir,
                user=self.user,
                log_path=self.base_dir / f"{name}.log",
            )
            try:
                server.start(timeout)
                return server
            except PortInUse:
                if attempt == PORT_ATTEMPTS:
                    raise
                logger.info("port %s was taken; retrying %s on another port", server.port, name)
        raise AssertionError("unreachable")

    # ---------------------------------------------------------------- addresses
    def replica(self, which: int | str) -> PostgresServer:
        """The replica numbered ``which`` (1-based) or named by its alias (``"replica_1"``)."""
        index = int(which.rsplit("_", 1)[1]) if isinstance(which, str) else which
        if not 1 <= index <= len(self.replicas):
            raise IndexError(f"no replica {which!r}; this cluster has {len(self.replicas)}")
        return self.replicas[index - 1]

    def url(self, alias: str = "default", dbname: str | None = None) -> str:
        """The postgres:// URL for a Django alias: ``default`` (primary) or ``replica_N``."""
        dbname = dbname or self.database
        if alias in ("default", "primary"):
            assert self.primary is not None
            return self.primary.url(dbname)
        return self.replica(alias).url(dbname)

    @property
    def replica_urls(self) -> list[str]:
        return [replica.url(self.database) for replica in self.replicas]

    def env(self) -> dict[str, str]:
        """DATABASE_URL and DATABASE_REPLICA_URLS, as the settings read them."""
        return {
            "DATABASE_URL": self.url("default"),
            "DATABASE_REPLICA_URLS": ",".join(self.replica_urls),
        }

    def failover_env(self, ports: dict[str, int] | None = None) -> dict[str, str]:
        """The same in libpq's multi-host form (core/db/urls.py), which follows a promotion.

        The primary's URL lists every node with ``target_session_attrs=read-write``: whichever
        accepts writes now. Each replica's lists its own node first, then the others, with
        ``prefer-standby``: a standby if any answers, else the new primary (which the health
        check then reports as promoted, and reads go to ``default``). ``ports``: the port to use
        for each server by name (PgBouncer in front of each), else the servers' own.
        """
        nodes = [self.primary, *self.replicas]
        assert all(node is not None for node in nodes)

        def address(server: PostgresServer) -> str:
            return f"{LOOPBACK}:{(ports or {}).get(server.name, server.port)}"

        def url(first: list[PostgresServer], attrs: str) -> str:
            rest = [node for node in nodes if node not in first]
            hosts = ",".join(address(node) for node in [*first, *rest])  # type: ignore[arg-type]
            return f"postgres://{SUPERUSER}@{hosts}/{self.database}?target_session_attrs={attrs}"

        return {
            "DATABASE_URL": url([], "read-write"),
            "DATABASE_REPLICA_URLS": ",".join(
                url([replica], "prefer-standby") for replica in self.replicas
            ),
        }

    # ---------------------------------------------------------------- replication control
    def pause_replay(self, which: int | str = 1, timeout: float = 10) -> None:
        """Pause WAL replay on a replica: it keeps receiving WAL but shows old data."""
        replica = self.replica(which)
        replica.query("SELECT pg_wal_replay_pause()")
        self._paused.add(self.replicas.index(replica) + 1)
        self._wait(
            lambda: replica.query("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused",
            timeout,
            f"replay on {replica.name} to pause",
        )

    def resume_replay(self, which: int | str = 1) -> None:
        replica = self.replica(which)
        replica.query("SELECT pg_wal_replay_resume()")
        self._paused.discard(self.replicas.index(replica) + 1)

    def stop_replica(self, which: int | str = 1, mode: str = "fast") -> None:
        self.generation += 1
        self.replica(which).stop(mode)

    def start_replica(self, which: int | str = 1, timeout: float = 30) -> None:
        replica = self.replica(which)
        self.generation += 1
        replica.start(timeout)
        # A restarted standby resumes replay even if it was paused before it stopped.
        self._paused.discard(self.replicas.index(replica) + 1)

    def restart_primary(self, timeout: float = 30) -> None:
        assert self.primary is not None
        self.generation += 1
        self.primary.stop("fast")
        self.primary.start(timeout)

    def promote(
        self,
        which: int | str = 1,
        *,
        keep_synchronous: bool = False,
        poolers: dict[str, int] | None = None,
    ) -> None:
        """Fail over: fence the primary (stopped if running), promote replica ``which``.

        The roles swap: ``primary`` is the promoted server, and the old primary takes the
        replica's place (stopped) until ``rejoin(which)``.
        """
        from devstack import failover

        replica = self.replica(which)
        old = self.primary
        assert old is not None
        self.generation += 1
        failover.promote(
            failover.Node(replica.data_dir, replica.port),
            failover.Node(old.data_dir, old.port),
            keep_synchronous=keep_synchronous,
            bin_dir=self.bin_dir,
            log=logger.info,
            old_pooler=(poolers or {}).get(old.name),
            new_pooler=(poolers or {}).get(replica.name),
            database=self.database,
        )
        old.stop("immediate")  # reaps it (it was fenced)
        index = self.replicas.index(replica)
        self.primary, self.replicas[index] = replica, old
        self._paused.discard(index + 1)

    def rejoin(
        self, which: int | str = 1, timeout: float = 60, poolers: dict[str, int] | None = None
    ) -> None:
        """The stopped replica ``which`` (the old primary after ``promote``) is rewound onto
        the current primary's timeline and started as its standby."""
        from devstack import failover

        node = self.replica(which)
        assert self.primary is not None and not node.running
        primary = failover.Node(self.primary.data_dir, self.primary.port)
        target = failover.Node(node.data_dir, node.port)
        failover.rewind(target, primary, bin_dir=self.bin_dir)
        self.generation += 1
        node.start(timeout)
        failover.finish_rejoin(
            target,
            primary,
            log=logger.info,
            timeout=timeout,
            pooler=(poolers or {}).get(node.name),
            database=self.database,
        )

    def current_lsn(self) -> str:
        assert self.primary is not None
        return str(self.primary.query("SELECT pg_current_wal_insert_lsn()")[0][0])

    def wait_for_replay(self, which: int | str | None = None, timeout: float = 10) -> None:
        """Wait until the replica(s) replayed everything the primary has written so far."""
        self._wait_for_position("replay", which, timeout)

    def wait_for_receive(self, which: int | str | None = None, timeout: float = 10) -> None:
        """Wait until the replica(s) received (not necessarily replayed) everything so far."""
        self._wait_for_position("receive", which, timeout)

    def _wait_for_position(self, kind: str, which: int | str | None, timeout: float) -> None:
        target = self.current_lsn()
        replicas = self.replicas if which is None else [self.replica(which)]
        sql = f"SELECT pg_last_wal_{kind}_lsn() >= %s::pg_lsn"
        for replica in replicas:
            self._wait(
                lambda replica=replica: bool(replica.query(sql, [target])[0][0]),
                timeout,
                f"{replica.name} to {kind} up to {target}",
            )

    def heal(self) -> None:
        """Undo what a test may have left: start stopped servers, resume paused replay."""
        if self.primary is not None and not self.primary.running:
            self.generation += 1
            self.primary.start()
        for index, replica in enumerate(self.replicas, start=1):
            if not replica.running:
                self.generation += 1
                replica.start()
            elif index in self._paused:
                self.resume_replay(index)

    @property
    def touched(self) -> bool:
        """True when a server is stopped or replay is paused (``heal`` has work to do)."""
        servers = [self.primary, *self.replicas]
        return bool(self._paused) or any(s is None or not s.running for s in servers)

    @staticmethod
    def _wait(predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(psycopg.OperationalError):
                if predicate():
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.02)

    def servers(self) -> Iterator[PostgresServer]:
        if self.primary is not None:
            yield self.primary
        yield from self.replicas
