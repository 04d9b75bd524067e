"""The data stores' own ceilings, measured on the stack's servers: ``redis-benchmark`` GET and
``pgbench -S`` (PostgreSQL's select-only TPC-B-like load, in a database of its own)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from devstack.binaries import postgres_bin_dir
from devstack.postgres import SUPERUSER, PostgresServer
from devstack.processes import LOOPBACK

PGBENCH_DATABASE = "pgbench"


class CeilingError(RuntimeError):
    """A ceiling tool is missing or failed."""


def redis_get(*, port: int, requests: int, clients: int = 50) -> dict[str, Any]:
    """GET operations per second, unpipelined, ``clients`` connections."""
    binary = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
    if not Path(binary).exists():
        raise CeilingError("redis-benchmark was not found (Debian package redis-tools)")
    argv = [
        binary, "-h", LOOPBACK, "-p", str(port), "-t", "get",
        "-n", str(requests), "-c", str(clients), "-P", "1", "--csv",
    ]  # fmt: skip
    result = subprocess.run(  # noqa: S603 - a resolved binary, loopback
        argv, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise CeilingError(f"redis-benchmark failed: {result.stderr[-1000:]}")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    header, data = rows[0], [row for row in rows[1:] if row and row[0].startswith("GET")]
    if not data:
        raise CeilingError(f"redis-benchmark printed no GET line:\n{result.stdout}")
    values = dict(zip(header, data[0], strict=False))
    return {
        "tool": "redis-benchmark -t get -P 1",
        "clients": clients,
        "requests": requests,
        "ops_per_s": float(values["rps"]),
        "latency_ms": {
            key.removesuffix("_latency_ms"): float(value)
            for key, value in values.items()
            if key.endswith("_latency_ms")
        },
    }


def pgbench_select_only(
    primary: PostgresServer, *, scale: int, clients: int, seconds: int
) -> dict[str, Any]:
    """``pgbench -S`` transactions per second on the primary (a database of its own)."""
    binary = postgres_bin_dir() / "pgbench"
    if not primary.query("SELECT 1 FROM pg_database WHERE datname = %s", [PGBENCH_DATABASE]):
        primary.query(f'CREATE DATABASE "{PGBENCH_DATABASE}"')
        _run([str(binary), *_connection(primary), "-i", "-q", "-s", str(scale), PGBENCH_DATABASE])
    threads = min(2, clients)
    argv = [
        str(binary), *_connection(primary), "-S", "-n",
        "-c", str(clients), "-j", str(threads), "-T", str(seconds), PGBENCH_DATABASE,
    ]  # fmt: skip
    output = _run(argv, timeout=seconds + 60)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", output)
    latency = re.search(r"latency average = ([0-9.]+) ms", output)
    if match is None:
        raise CeilingError(f"pgbench printed no tps:\n{output}")
    return {
        "tool": "pgbench -S",
        "scale": scale,
        "clients": clients,
        "seconds": seconds,
        "tps": float(match.group(1)),
        "latency_ms": {"avg": float(latency.group(1))} if latency else {},
    }


def _connection(server: PostgresServer) -> list[str]:
    return ["-h", LOOPBACK, "-p", str(server.port), "-U", SUPERUSER]


def _run(argv: list[str], timeout: float = 300) -> str:
    result = subprocess.run(  # noqa: S603 - PostgreSQL's own client, loopback
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise CeilingError(f"{Path(argv[0]).name} failed:\n{result.stdout}{result.stderr}")
    return result.stdout + result.stderr
