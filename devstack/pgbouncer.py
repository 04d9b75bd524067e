"""PgBouncer (Debian's package) in transaction mode in front of one PostgreSQL server.

One pooler per PostgreSQL node, as a sidecar would be: the app's multi-host URLs list the
poolers, and libpq's ``target_session_attrs`` check (``SHOW transaction_read_only``,
``pg_is_in_recovery()``) runs through each one on its node, so the app still follows a promoted
standby (docs/failover.md). Transaction mode: a client holds a server connection only for the
length of a transaction, so many client connections (gunicorn threads x aliases x pods) share
``pool_size`` server connections per database (docs/pooling.md).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import time
from pathlib import Path

from devstack.binaries import MissingBinary
from devstack.processes import (
    LOOPBACK,
    ManagedProcess,
    ServerStartError,
    free_port,
    make_owned_dir,
)

PORT_ATTEMPTS = 3
DEFAULT_POOL_SIZE = 10
# Far more than the stack's client connections (3 backends x 2 workers x 4 threads x aliases,
# the Celery worker, probes): a client over the limit is refused, not queued.
MAX_CLIENT_CONNECTIONS = 1000


def pgbouncer_binary() -> Path:
    """``$PGBOUNCER``, PATH, or Debian's /usr/sbin/pgbouncer."""
    found = os.environ.get("PGBOUNCER") or shutil.which("pgbouncer")
    if not found and os.access("/usr/sbin/pgbouncer", os.X_OK):
        found = "/usr/sbin/pgbouncer"
    if not found:
        raise MissingBinary(
            "pgbouncer was not found. Install it with `sudo apt-get install pgbouncer` "
            "(or run `make system-deps` as root), or set PGBOUNCER."
        )
    return Path(found)


def render_config(
    *,
    listen_port: int,
    server_port: int,
    base_dir: Path,
    pool_size: int,
    server_host: str = LOOPBACK,
    user: str = "postgres",
) -> str:
    """pgbouncer.ini for one server: every database name passes through (``*``)."""
    return f"""\
[databases]
; Any database name (the app's, and the test suite's test_ one) on the one server behind us.
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = {LOOPBACK}
listen_port = {listen_port}
unix_socket_dir =
pidfile =
logfile =
auth_type = trust
auth_file = {base_dir / "userlist.txt"}
admin_users = {user}
stats_users = {user}
pool_mode = transaction
; Server connections per (database, user): what PostgreSQL sees, however many clients.
default_pool_size = {pool_size}
max_db_connections = {pool_size}
reserve_pool_size = 0
max_client_conn = {MAX_CLIENT_CONNECTIONS}
; A server that went away (a restart, a failover) is tried again after 1 s, not 15.
server_login_retry = 1
server_connect_timeout = 3
; A client waits this long for a free server connection, then gets an error (not a hang).
query_wait_timeout = 30
log_connections = 0
log_disconnections = 0
"""


class PgBouncerServer:
    """``pgbouncer`` as a child process in front of ``server_port``; ``port`` is its own."""

    def __init__(
        self,
        *,
        name: str,
        server_port: int,
        base_dir: Path,
        pool_size: int = DEFAULT_POOL_SIZE,
        user: pwd.struct_passwd | None = None,
        port: int | None = None,
    ) -> None:
        self.name = name
        self.server_port = server_port
        self.base_dir = Path(base_dir)
        self.pool_size = pool_size
        # PgBouncer refuses to run as root: as root it runs as PostgreSQL's user.
        self.user = user
        self.port = port
        self.binary = pgbouncer_binary()
        self._process: ManagedProcess | None = None

    def __repr__(self) -> str:
        return f"<PgBouncerServer {self.name} port={self.port} -> {self.server_port}>"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path:
        return self.base_dir / "pgbouncer.log"

    def start(self, timeout: float = 10) -> PgBouncerServer:
        if self.running:
            return self
        make_owned_dir(self.base_dir, self.user)
        (self.base_dir / "userlist.txt").write_text('"postgres" ""\n')
        keep_port = self.port is not None
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = self.port if keep_port else free_port()
            assert port is not None
            config = self.base_dir / "pgbouncer.ini"
            config.write_text(
                render_config(
                    listen_port=port,
                    server_port=self.server_port,
                    base_dir=self.base_dir,
                    pool_size=self.pool_size,
                )
            )
            self._process = ManagedProcess(
                [str(self.binary), str(config)], log_path=self.log_path, user=self.user
            )
            self._process.start()
            try:
                self._wait_ready(port, timeout)
            except ServerStartError:
                self._process.stop()
                self._process = None
                if keep_port or attempt == PORT_ATTEMPTS:
                    raise
                continue
            self.port = port
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()  # SIGTERM: PgBouncer's immediate shutdown
            self._process = None

    def _wait_ready(self, port: int, timeout: float) -> None:
        """Until it listens (it starts without touching the server behind it)."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._process.alive():
                raise ServerStartError(
                    f"pgbouncer {self.name} exited while starting on port {port}:\n"
                    f"{self._process.log_tail()}"
                )
            try:
                with socket.create_connection((LOOPBACK, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise ServerStartError(
            f"pgbouncer {self.name} did not listen on port {port} within {timeout}s:\n"
            f"{self._process.log_tail()}"
        )
