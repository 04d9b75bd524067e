"""What PgBouncer costs per request: ``python -m bench.load.pooling`` (a step of ``make bench``).

A "request" is what one Django request does to the database with the settings of
docs/pooling.md: on a persistent connection (``CONN_MAX_AGE`` 60), the health check
(``SELECT 1``) and one indexed read; with ``--per-request-connections`` also what
``CONN_MAX_AGE = 0`` would do (connect, the read, close). Each is run straight to PostgreSQL and
through PgBouncer (transaction mode, one pool), alternating, ``--rounds`` times, from 1 and from
4 threads. Reported per request: wall time (what a client waits), PgBouncer's own CPU time
(``/proc/<pid>/stat``: what the pooler process burns), and the difference pooled minus direct.
Wall times on a shared host drift; compare only the alternating pairs. Every loop is bounded
by ``--requests``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from devstack.pgbouncer import PgBouncerServer
from devstack.postgres import PostgresCluster, PostgresServer
from devstack.processes import LOOPBACK

DATABASE = "pooling_bench"
ROWS = 1000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of ``pid`` so far (0 when it is gone)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _connect(port: int) -> psycopg.Connection:
    # prepare_threshold=None: what DATABASE_TRANSACTION_POOLING sets (core/db/urls.py)
    return psycopg.connect(
        host=LOOPBACK, port=port, user="postgres", dbname=DATABASE, autocommit=True,
        prepare_threshold=None,
    )  # fmt: skip


def persistent_request(conn: psycopg.Connection, key: int) -> None:
    conn.execute("SELECT 1").fetchone()  # Django's CONN_HEALTH_CHECKS
    conn.execute("SELECT id, payload FROM item WHERE id = %s", [key]).fetchone()


def run(
    port: int, *, requests: int, threads: int, fresh_connections: bool, pooler_pid: int | None
) -> dict[str, float]:
    """``requests`` requests over ``threads`` threads against ``port``: seconds per request."""
    per_thread = max(1, requests // threads)
    barrier = threading.Barrier(threads + 1, timeout=60)

    def worker(offset: int) -> None:
        conn = None if fresh_connections else _connect(port)
        barrier.wait()
        try:
            for index in range(per_thread):
                key = (offset + index) % ROWS + 1
                if conn is None:
                    with _connect(port) as fresh:
                        fresh.execute("SELECT id, payload FROM item WHERE id = %s", [key])
                else:
                    persistent_request(conn, key)
        finally:
            if conn is not None:
                conn.close()

    workers = [threading.Thread(target=worker, args=(n * 7919,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    cpu_before, began = cpu_seconds(pooler_pid), time.perf_counter()
    for thread in workers:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - began
    done = per_thread * threads
    return {
        "wall_us": elapsed / done * threads * 1e6,  # one request's wall time, per thread
        "throughput_per_s": done / elapsed,
        "pooler_cpu_us": (cpu_seconds(pooler_pid) - cpu_before) / done * 1e6,
    }


def measure(
    server: PostgresServer,
    *,
    base_dir: Path,
    requests: int = 4000,
    rounds: int = 3,
    threads: Sequence[int] = (1, 4),
    pool_size: int = 10,
    per_request_connections: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Direct vs through a PgBouncer started in front of ``server`` (stopped at the end)."""
    _create_database(server)
    pooler = PgBouncerServer(
        name="bench", server_port=server.port, base_dir=base_dir, pool_size=pool_size,
        user=server.user,
    )  # fmt: skip
    pooler.start()
    modes = [("persistent", False)] + ([("per_request", True)] if per_request_connections else [])
    results: dict[str, Any] = {"requests": requests, "rounds": rounds, "pool_size": pool_size}
    try:
        assert pooler.port is not None
        for mode, fresh in modes:
            for count in threads:
                row = _direct_vs_pooler(
                    server, pooler, requests=requests, rounds=rounds, threads=count, fresh=fresh
                )
                results[f"{mode}_t{count}"] = row
                log(
                    f"pooling: {mode:<12} {count} thread(s): direct {row['direct']['wall_us']} us,"
                    f" pgbouncer {row['pgbouncer']['wall_us']} us (+{row['added_wall_us']} us),"
                    f" pooler CPU {row['pgbouncer']['pooler_cpu_us']} us per request"
                )
    finally:
        pooler.stop()
        server.query(f'DROP DATABASE IF EXISTS "{DATABASE}"')
    return results


def _create_database(server: PostgresServer) -> None:
    """A fresh database with one table of ``ROWS`` rows, analysed."""
    server.query(f'DROP DATABASE IF EXISTS "{DATABASE}"')
    server.query(f'CREATE DATABASE "{DATABASE}"')
    server.query("CREATE TABLE item (id int PRIMARY KEY, payload text NOT NULL)", dbname=DATABASE)
    server.query(
        "INSERT INTO item SELECT n, repeat('x', 200) FROM generate_series(1, %s) n",
        [ROWS],
        dbname=DATABASE,
    )
    server.query("VACUUM ANALYZE item", dbname=DATABASE)


def _direct_vs_pooler(
    server: PostgresServer,
    pooler: PgBouncerServer,
    *,
    requests: int,
    rounds: int,
    threads: int,
    fresh: bool,
) -> dict[str, Any]:
    """Medians of ``rounds`` alternating runs direct and through the pooler."""
    assert pooler.port is not None
    sides: dict[str, list[dict[str, float]]] = {"direct": [], "pgbouncer": []}
    for _ in range(rounds):  # alternating: the host's drift hits both sides
        for side, port in (("direct", server.port), ("pgbouncer", pooler.port)):
            sides[side].append(
                run(port, requests=requests, threads=threads, fresh_connections=fresh,
                    pooler_pid=pooler.pid if side == "pgbouncer" else None)
            )  # fmt: skip
    row: dict[str, Any] = {
        side: {
            key: round(statistics.median(r[key] for r in runs), 1)
            for key in ("wall_us", "throughput_per_s", "pooler_cpu_us")
        }
        for side, runs in sides.items()
    }
    row["added_wall_us"] = round(row["pgbouncer"]["wall_us"] - row["direct"]["wall_us"], 1)
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load.pooling", description=__doc__)
    parser.add_argument("--requests", type=int, default=4000, help="per run (default 4000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--threads", default="1,4", help="comma-separated (default 1,4)")
    parser.add_argument("--out", type=Path, help="write pooling.json here")
    args = parser.parse_args(argv)
    threads = tuple(int(part) for part in args.threads.split(",") if part.strip())
    with PostgresCluster(replicas=0) as cluster:
        assert cluster.primary is not None
        results = measure(
            cluster.primary,
            base_dir=cluster.base_dir / "pgbouncer",
            requests=args.requests,
            rounds=args.rounds,
            threads=threads,
        )
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "pooling.json").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
