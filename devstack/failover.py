"""The operator's two failover commands, with PostgreSQL's own tools (no consensus of our own).

``promote``: fence the old primary (stop it if it is local and running; then make sure nothing
answers as a primary on its address), ``pg_ctl promote`` the standby, wait until it accepts
writes. When the cluster replicates synchronously and no standby is left to confirm commits,
say so and switch the new primary to asynchronous commits (``--keep-synchronous``: leave it,
and every write waits until a standby connects). The app follows by itself: its
``DATABASE_URL`` lists both nodes with ``target_session_attrs=read-write`` (docs/failover.md).

``rejoin``: make the old primary a standby of the new one with ``pg_rewind`` (which needs
``wal_log_hints = on`` or data checksums, and ``full_page_writes = on``), start it, wait until it
streams, and restore synchronous commits if they were switched off by ``promote``.

    python -m devstack.failover promote --standby DIR:PORT --old-primary DIR:PORT
    python -m devstack.failover rejoin --node DIR:PORT --primary PORT

(``deploy/local/pg-failover`` runs the same; the ports of a ``make stack`` are in
``make stack-status``.) As root, the tools run as the data directory's owner.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devstack.binaries import postgres_bin_dir
from devstack.processes import LOOPBACK, run_tool

SUPERUSER = "postgres"
# Written by ALTER SYSTEM on the new primary while it has no standby, and reset on rejoin.
SYNCHRONOUS_SETTING = "synchronous_standby_names"
# ``promote`` switched synchronous commits off with ALTER SYSTEM (postgresql.auto.conf).
DOWNGRADED_SQL = """
SELECT count(*) > 0 FROM pg_file_settings
WHERE name = 'synchronous_standby_names' AND sourcefile LIKE '%postgresql.auto.conf'
"""


class FailoverError(RuntimeError):
    """A step refused or failed; nothing after it was done (the message says what to do)."""


@dataclass(frozen=True)
class Node:
    """One PostgreSQL server as the commands see it: its data directory and address."""

    data_dir: Path
    port: int
    host: str = LOOPBACK

    @classmethod
    def parse(cls, text: str) -> Node:
        """``DIR:PORT`` (the host is loopback: these commands drive local servers)."""
        directory, _, port = text.rpartition(":")
        if not directory or not port.isdigit():
            raise argparse.ArgumentTypeError(f"expected DATA_DIR:PORT, got {text!r}")
        return cls(Path(directory).resolve(), int(port))

    def connect(self, timeout: int = 2) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
            connect_timeout=timeout,
        )

    def ask(self, sql: str) -> object:
        """The first column of the first row, or None (also for a statement returning none)."""
        with self.connect() as conn:
            cursor = conn.execute(sql)  # type: ignore[arg-type]
            row = cursor.fetchone() if cursor.description else None
        return None if row is None else row[0]

    def answers(self) -> bool:
        try:
            self.ask("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def in_recovery(self) -> bool:
        return bool(self.ask("SELECT pg_is_in_recovery()"))


def _owner(data_dir: Path) -> pwd.struct_passwd | None:
    """Run the tools as the data directory's owner when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwuid(data_dir.stat().st_uid)


def _pg_ctl(bin_dir: Path, node: Node, *args: str, timeout: float = 60) -> None:
    run_tool(
        [str(bin_dir / "pg_ctl"), "-D", str(node.data_dir), *args],
        user=_owner(node.data_dir),
        timeout=timeout,
    )


def _running_postmaster(data_dir: Path) -> int | None:
    """The pid in ``postmaster.pid`` when that process is alive, else None."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    # A killed postmaster its parent has not reaped yet is a zombie: dead, holding no port.
    return None if state == "Z" else pid


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(psycopg.OperationalError):
            if predicate():
                return
        if time.monotonic() >= deadline:
            raise FailoverError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def pooler_command(port: int, command: str, *, host: str = LOOPBACK) -> bool:
    """Run ``command`` on PgBouncer's admin console at ``port``; False when it does not answer.

    With one PgBouncer per node, libpq's ``target_session_attrs`` check reads the
    ``in_hot_standby`` the pooler cached from its first server connection: a dead primary's
    pooler still looks writable, a promoted standby's still read-only. ``DISABLE``, ``KILL``
    and ``RESUME`` (KILL pauses) take the old node's pooler out: its clients are dropped, new
    ones refused, and libpq moves on to the next host;
    ``RECONNECT`` makes the promoted node's pooler open new server connections, which report
    the new role (docs/failover.md, "PgBouncer").
    """
    try:
        with psycopg.connect(
            host=host, port=port, user=SUPERUSER, dbname="pgbouncer", autocommit=True,
            connect_timeout=2,
        ) as admin:  # fmt: skip
            admin.execute(command)  # type: ignore[arg-type]
    except psycopg.OperationalError:
        return False
    return True


def fence(old_primary: Node, *, bin_dir: Path | None = None) -> None:
    """Make sure the old primary takes no more writes before a standby is promoted.

    Two primaries taking writes is the one outcome worse than an outage: each acknowledges
    bookings the other never sees. A local postmaster is stopped (``immediate``: like the crash
    we are recovering from); then its address must not answer as a primary. A remote one must be
    fenced by its own means first (stop the VM or pod, detach its volume): this refuses while
    it still answers.
    """
    bin_dir = bin_dir or postgres_bin_dir()
    if _running_postmaster(old_primary.data_dir) is not None:
        _pg_ctl(bin_dir, old_primary, "stop", "-m", "immediate", "-w")
    if old_primary.answers():
        raise FailoverError(
            f"the old primary still answers on {old_primary.host}:{old_primary.port}; stop it "
            "(or cut it off) before promoting, or both would take writes"
        )


def promote(
    standby: Node,
    old_primary: Node,
    *,
    keep_synchronous: bool = False,
    bin_dir: Path | None = None,
    log: Callable[[str], None] = print,
    timeout: float = 30,
    old_pooler: int | None = None,
    new_pooler: int | None = None,
    database: str = "myhibachi",
) -> None:
    """Fence ``old_primary``, promote ``standby`` and wait until it takes writes.

    ``old_pooler`` / ``new_pooler``: the admin ports of the PgBouncers in front of the two
    nodes (``pooler_command``), for ``database``.
    """
    bin_dir = bin_dir or postgres_bin_dir()
    if not standby.in_recovery():
        raise FailoverError(f"{standby.port} is not a standby (already promoted?)")
    log(f"fencing the old primary ({old_primary.data_dir}, port {old_primary.port})")
    fence(old_primary, bin_dir=bin_dir)
    if old_pooler is not None:
        # KILL also pauses the database until RESUME; DISABLE keeps refusing new clients.
        answered = all(
            pooler_command(old_pooler, f"{command} {database}")
            for command in ("DISABLE", "KILL", "RESUME")
        )
        log(f"old node's PgBouncer ({old_pooler}): {'disabled' if answered else 'not answering'}")
    log(f"promoting the standby ({standby.data_dir}, port {standby.port})")
    _pg_ctl(bin_dir, standby, "promote", "-w", "-t", str(int(timeout)), timeout=timeout + 10)
    _wait(lambda: not standby.in_recovery(), timeout, "the promoted standby to leave recovery")
    names = str(standby.ask(f"SHOW {SYNCHRONOUS_SETTING}") or "")
    standbys = int(standby.ask("SELECT count(*) FROM pg_stat_replication") or 0)  # type: ignore[call-overload]
    if names and not standbys:
        if keep_synchronous:
            log(
                f"WARNING: {SYNCHRONOUS_SETTING} = {names!r} and no standby is connected: every "
                "commit waits until one is (rejoin the old primary)"
            )
        else:
            # A conscious downgrade: with no standby, "on" would block every write; from now
            # until `rejoin`, an acknowledged write lives on this server alone.
            with standby.connect() as conn:
                conn.execute(f"ALTER SYSTEM SET {SYNCHRONOUS_SETTING} = ''")  # type: ignore[arg-type]
                conn.execute("SELECT pg_reload_conf()")
            log(
                "WARNING: no standby left: commits are ASYNCHRONOUS until `rejoin` (a loss of "
                "this server now loses acknowledged writes)"
            )
    if new_pooler is not None and not pooler_command(new_pooler, f"RECONNECT {database}"):
        raise FailoverError(f"the promoted node's PgBouncer ({new_pooler}) does not answer")
    log(f"port {standby.port} is the primary; clients with target_session_attrs follow it")


def rewind(node: Node, primary: Node, *, bin_dir: Path | None = None) -> None:
    """``pg_rewind`` the stopped ``node`` onto ``primary``'s timeline and make it its standby."""
    bin_dir = bin_dir or postgres_bin_dir()
    if _running_postmaster(node.data_dir) is not None:
        raise FailoverError(f"{node.data_dir} is running; stop it before rejoining it")
    if primary.in_recovery():
        raise FailoverError(f"{primary.port} is not a primary")
    # The promoted server writes its new timeline to its control file at the next checkpoint;
    # pg_rewind reads it from there ("same timeline, no rewind required" otherwise).
    primary.ask("CHECKPOINT")
    source = f"host={primary.host} port={primary.port} user={SUPERUSER} dbname=postgres"
    run_tool(
        [
            str(bin_dir / "pg_rewind"),
            "--target-pgdata",
            str(node.data_dir),
            "--source-server",
            source,
            # standby.signal + primary_conninfo pointing at the new primary
            "--write-recovery-conf",
            "--no-sync",
        ],
        user=_owner(node.data_dir),
        timeout=300,
    )


def finish_rejoin(
    node: Node,
    primary: Node,
    *,
    log: Callable[[str], None] = print,
    timeout: float = 60,
    pooler: int | None = None,
    database: str = "myhibachi",
) -> None:
    """After the rewound ``node`` started: wait until it streams, restore synchronous commits,
    and put its PgBouncer (``pooler``, disabled by ``promote``) back, now seeing a standby."""
    _wait(node.in_recovery, timeout, f"{node.port} to run as a standby")
    _wait(
        lambda: bool(primary.ask("SELECT count(*) > 0 FROM pg_stat_replication")),
        timeout,
        f"{node.port} to stream from {primary.port}",
    )
    if primary.ask(DOWNGRADED_SQL):
        with primary.connect() as conn:
            conn.execute(f"ALTER SYSTEM RESET {SYNCHRONOUS_SETTING}")  # type: ignore[arg-type]
            conn.execute("SELECT pg_reload_conf()")
        log(f"{SYNCHRONOUS_SETTING} restored on the primary: commits wait for a standby again")
    if node.ask(DOWNGRADED_SQL):
        # pg_rewind copied the primary's postgresql.auto.conf, downgrade included: without this
        # the node, promoted some day, would commit asynchronously without a word.
        with node.connect() as conn:
            conn.execute(f"ALTER SYSTEM RESET {SYNCHRONOUS_SETTING}")  # type: ignore[arg-type]
    if pooler is not None:
        pooler_command(pooler, f"RECONNECT {database}")
        pooler_command(pooler, f"ENABLE {database}")
    log(f"port {node.port} is a standby of port {primary.port}")


def rejoin(
    node: Node,
    primary: Node,
    *,
    bin_dir: Path | None = None,
    log: Callable[[str], None] = print,
    timeout: float = 60,
    pooler: int | None = None,
    database: str = "myhibachi",
) -> None:
    """``rewind``, start ``node`` (``pg_ctl``, logging to ``<data_dir>/rejoin.log``), then
    ``finish_rejoin``. The harness starts the server its own way between the two."""
    bin_dir = bin_dir or postgres_bin_dir()
    log(f"rewinding {node.data_dir} onto the primary at port {primary.port}")
    rewind(node, primary, bin_dir=bin_dir)
    log(f"starting {node.data_dir} on port {node.port} as a standby")
    _pg_ctl(
        bin_dir,
        node,
        "start",
        "-w",
        "-o",
        f"-p {node.port}",
        "-l",
        str(node.data_dir / "rejoin.log"),
        timeout=timeout,
    )
    finish_rejoin(node, primary, log=log, timeout=timeout, pooler=pooler, database=database)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy/local/pg-failover", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    promote_cmd = commands.add_parser("promote", help="fence the old primary, promote a standby")
    promote_cmd.add_argument("--standby", type=Node.parse, required=True, metavar="DIR:PORT")
    promote_cmd.add_argument("--old-primary", type=Node.parse, required=True, metavar="DIR:PORT")
    promote_cmd.add_argument(
        "--keep-synchronous",
        action="store_true",
        help="keep synchronous_standby_names with no standby left (writes wait for one)",
    )
    promote_cmd.add_argument("--old-pooler", type=int, metavar="PORT", help="its PgBouncer")
    promote_cmd.add_argument("--new-pooler", type=int, metavar="PORT", help="the standby's")
    rejoin_cmd = commands.add_parser("rejoin", help="pg_rewind the old primary into a standby")
    rejoin_cmd.add_argument("--node", type=Node.parse, required=True, metavar="DIR:PORT")
    rejoin_cmd.add_argument("--primary", type=int, required=True, metavar="PORT")
    rejoin_cmd.add_argument("--pooler", type=int, metavar="PORT", help="the node's PgBouncer")
    for command in (promote_cmd, rejoin_cmd):
        command.add_argument("--database", default="myhibachi", help="the app's database")
    args = parser.parse_args(argv)
    try:
        if args.command == "promote":
            promote(
                args.standby,
                args.old_primary,
                keep_synchronous=args.keep_synchronous,
                old_pooler=args.old_pooler,
                new_pooler=args.new_pooler,
                database=args.database,
            )
        else:
            rejoin(
                args.node,
                Node(Path("/nonexistent"), args.primary),
                pooler=args.pooler,
                database=args.database,
            )
    except FailoverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
