"""The live picture of every database alias, for ``manage.py dbstatus`` and operators."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

from core.db import conf
from core.db.health import OK, registry
from core.db.health import probe_params as _probe_params
from core.observability.logging import one_line

CONNECTIONS_SQL = """
SELECT pg_is_in_recovery(),
       current_setting('max_connections')::int,
       count(*) FILTER (WHERE backend_type = 'client backend'),
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active')
FROM pg_stat_activity
"""
REPLICATION_SQL = """
SELECT application_name, client_addr::text, state,
       EXTRACT(EPOCH FROM replay_lag)::float8
FROM pg_stat_replication ORDER BY application_name
"""


@dataclass
class AliasStatus:
    alias: str
    role: str  # "primary" or "replica"
    vendor: str
    address: str
    reachable: bool
    state: str  # ok, down, lagging, promoted
    lag_seconds: float | None = None
    in_recovery: bool | None = None
    reads_now: str = ""
    pool: dict[str, Any] = field(default_factory=dict)
    server_connections: dict[str, int] | None = None
    replication: list[dict[str, Any]] | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def database_status() -> list[AliasStatus]:
    """Probe every alias now (no cached verdicts) and say where reads would go."""
    replicas = conf.replica_aliases()
    statuses = [_primary_status()]
    statuses += [_replica_status(alias) for alias in replicas]
    usable = [s for s in statuses[1:] if s.reads_now == "yes"]
    primary = statuses[0]
    if not replicas:
        primary.reads_now = "all (no replicas configured)"
    elif not conf.reads_enabled():
        primary.reads_now = "all (REPLICA_READS_ENABLED is off)"
    elif not usable:
        primary.reads_now = "all (no usable replica)"
    else:
        primary.reads_now = "pinned, in-transaction and primary-only reads"
    return statuses


def primary_reachable(statuses: list[AliasStatus]) -> bool:
    return any(s.alias == DEFAULT_DB_ALIAS and s.reachable for s in statuses)


def _base(alias: str, role: str) -> AliasStatus:
    connection = connections[alias]
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        address = f"{settings_dict['HOST'] or 'localhost'}:{settings_dict['PORT'] or 5432}"
        address += f"/{settings_dict['NAME']}"
    else:
        address = str(settings_dict["NAME"])
    return AliasStatus(
        alias=alias,
        role=role,
        vendor=connection.vendor,
        address=address,
        reachable=False,
        state="down",
        pool=pool_info(alias),
    )


def pool_info(alias: str) -> dict[str, Any]:
    """How this alias holds connections, and the pool's live numbers in this process."""
    connection = connections[alias]
    settings_dict = connection.settings_dict
    pool_options = settings_dict["OPTIONS"].get("pool")
    if not pool_options:
        return {
            "mode": "persistent" if settings_dict["CONN_MAX_AGE"] else "per-request",
            "conn_max_age": settings_dict["CONN_MAX_AGE"],
            "health_checks": settings_dict["CONN_HEALTH_CHECKS"],
        }
    info: dict[str, Any] = {"mode": "pool"}
    pool = getattr(connection, "pool", None)
    if pool is not None:
        stats = pool.get_stats()
        info.update(
            min_size=pool.min_size,
            max_size=pool.max_size,
            size=stats.get("pool_size", 0),
            available=stats.get("pool_available", 0),
            waiting=stats.get("requests_waiting", 0),
        )
    return info


def _server_numbers(alias: str, status: AliasStatus, *, replication: bool) -> None:
    """Fill reachability and server-wide connection counts from a connection of our own."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            status.reachable, status.state = True, OK
        except Exception as exc:  # any backend's error means "not reachable"
            status.detail = one_line(exc)
        return
    try:
        with psycopg.connect(**_probe_params(connection)) as conn:
            row = conn.execute(CONNECTIONS_SQL).fetchone()
            assert row is not None  # an aggregate query always returns its row
            in_recovery, max_conn, open_conn, active = row
            if replication:
                status.replication = [
                    {"name": name, "client": client, "state": state, "replay_lag_seconds": lag}
                    for name, client, state, lag in conn.execute(REPLICATION_SQL).fetchall()
                ]
    except psycopg.Error as exc:
        status.detail = one_line(exc)
        return
    status.reachable = True
    status.in_recovery = bool(in_recovery)
    status.server_connections = {"open": open_conn, "active": active, "max": max_conn}


def _primary_status() -> AliasStatus:
    status = _base(DEFAULT_DB_ALIAS, "primary")
    _server_numbers(DEFAULT_DB_ALIAS, status, replication=True)
    if status.reachable:
        status.state = OK if not status.in_recovery else "in recovery"
    return status


def _replica_status(alias: str) -> AliasStatus:
    status = _base(alias, "replica")
    _server_numbers(alias, status, replication=False)
    health = registry.refresh(alias)
    status.state = health.state
    status.lag_seconds = health.lag_seconds
    status.detail = status.detail or health.detail
    status.reads_now = "yes" if health.usable and conf.reads_enabled() else "no"
    return status


def format_table(statuses: list[AliasStatus]) -> str:
    """A fixed-width table, one alias per line, for humans."""
    header = ("ALIAS", "ROLE", "ADDRESS", "STATE", "LAG", "CONNECTIONS", "POOL", "READS NOW")
    rows = [header]
    for s in statuses:
        lag = "-" if s.lag_seconds is None else f"{s.lag_seconds:.2f}s"
        conns = (
            "-"
            if s.server_connections is None
            else "{open}/{max} open, {active} active".format(**s.server_connections)
        )
        pool = s.pool.get("mode", "-")
        if pool == "persistent":
            pool += f" ({s.pool['conn_max_age']}s)"
        elif pool == "pool" and "max_size" in s.pool:
            pool += f" {s.pool['size']}/{s.pool['max_size']}"
        state = s.state if not s.detail else f"{s.state}: {s.detail}"
        rows.append((s.alias, s.role, s.address, state, lag, conns, pool, s.reads_now))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines)
