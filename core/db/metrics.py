"""Counters of every routing decision, for the /metrics endpoint and ``dbstatus``.

prometheus_client appends ``_total`` to counter names. In gunicorn's multiprocess mode each
worker writes its own values; the gauges say how to combine them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

READS = Counter(
    "db_router_reads",
    "Reads routed by the replica router, by the database alias chosen.",
    ["alias"],
)
PINNED_READS = Counter(
    "db_router_pinned_reads",
    "Reads sent to the primary although replicas were configured, by reason "
    "(atomic, use_primary, primary_model, request_write, client_cookie, client_user, ...).",
    ["reason"],
)
FALLBACKS = Counter(
    "db_router_fallbacks",
    "Reads that could not go where the router meant them to, by reason (replica_down, "
    "replica_lagging, replica_promoted, connection_error, recovery_conflict, "
    "pin_store_unavailable; primary_down: a read meant for the primary served by a replica).",
    ["reason"],
)
PINS = Counter(
    "db_router_pins",
    "Read-your-writes pins recorded after a write, by kind (user, cookie; user_not_replicated: "
    "a user pin no Redis replica confirmed within REPLICA_PIN_REDIS_WAIT_MS).",
    ["kind"],
)
HEALTH_CHECKS = Counter(
    "db_replica_health_checks",
    "Replica health and lag checks run by this process (cached between them), per replica.",
    ["alias"],
)
REPLICA_LAG = Gauge(
    "db_replica_lag_seconds",
    "Replication lag last measured by this process's health check, per replica.",
    ["alias"],
    # live*: a recycled worker's last reading must not outlive it (a stale spike would stick).
    multiprocess_mode="livemax",
)
REPLICA_USABLE = Gauge(
    "db_replica_usable",
    "1 while the router sends reads to the replica, 0 while it skips it.",
    ["alias"],
    multiprocess_mode="livemin",
)

PRIMARY_UNREACHABLE = Gauge(
    "db_primary_unreachable",
    "1 while this process has found the primary unreachable (reads then use a replica), else 0.",
    multiprocess_mode="livemax",
)


def value(metric: Counter | Gauge, **labels: str) -> float:
    """The current value of one labelled child in this process (0 when never touched)."""
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            if sample.labels == labels:
                return float(sample.value)
    return 0.0
