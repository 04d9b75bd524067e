"""The capacity model: from a ``make bench`` results.json, what 10k / 100k / 1M users need at peak.

    python -m bench.capacity bench/results/<run>/results.json [--requests-per-user-day 20]
                             [--peak-factor 8] [--users 10000 100000 1000000] [--json]

Per endpoint (bench scenario), from the run at the highest concurrency (the backends busy, as
at peak): CPU milliseconds per request of the backends (gunicorn + nginx), PostgreSQL and Redis
(``cpu_s`` of each process group divided by the requests wrk completed), SQL queries per
request and the cache hit rate. Weighted by the traffic mix (``MIX``), and multiplied by the
peak request rate, they give the vCPUs each tier needs; each tier is then rounded up to whole
nodes at a target utilisation, with a floor for availability. docs/capacity.md explains each
assumption; every number here is an argument or a constant below, nothing is hidden.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SECONDS_PER_DAY = 86_400
HOURS_PER_MONTH = 730  # AWS's billing month

# The share of API requests per endpoint at peak (sums to 1): a hibachi-booking site is mostly
# browsing (posts, packages, reviews), then availability checks, then a few bookings.
MIX: dict[str, float] = {
    "featured": 0.20,
    "post_list_first": 0.12,
    "post_list_deep": 0.03,
    "post_detail": 0.20,
    "search": 0.05,
    "review_stats": 0.08,
    "availability": 0.17,
    "my_bookings": 0.12,
    "booking_create": 0.03,
}
# Scenarios whose database work is on the primary (writes); the rest read replicas.
PRIMARY_SCENARIOS = frozenset({"booking_create"})

# US list prices, on-demand, Linux, us-east-1, per hour, as published on
# aws.amazon.com/ec2/pricing/on-demand and aws.amazon.com/eks/pricing in 2024 (not re-checked
# online on 2026-12-04, when this was written: check before quoting).
PRICES_DATE = "AWS us-east-1 on-demand list prices, 2024 (not re-checked 2026-12-04)"
PRICES_PER_HOUR: dict[str, float] = {
    "c6i.large": 0.085,  # 2 vCPU, 4 GiB: app nodes (pods, nginx), PgBouncer, Redis
    "m6i.large": 0.096,  # 2 vCPU, 8 GiB: PostgreSQL
    "m6i.xlarge": 0.192,  # 4 vCPU, 16 GiB
    "m6i.2xlarge": 0.384,  # 8 vCPU, 32 GiB
    "m6i.4xlarge": 0.768,  # 16 vCPU, 64 GiB
    "eks_cluster": 0.10,  # the EKS control plane
    "alb": 0.0225,  # one Application Load Balancer, before LCUs
}
GP3_PER_GB_MONTH = 0.08
DB_INSTANCES = [("m6i.large", 2), ("m6i.xlarge", 4), ("m6i.2xlarge", 8), ("m6i.4xlarge", 16)]
# The seed's own table (traffic-management-strategy.md, "Cost Breakdown by Scale").
SEED_MONTHLY_COST = {10_000: 200, 100_000: 1_500, 1_000_000: 10_000}


@dataclass(frozen=True)
class Assumptions:
    requests_per_user_per_day: float = 20.0  # API requests per registered user per day
    peak_factor: float = 8.0  # peak-minute rate / the day's average rate
    target_utilization: float = 0.6  # of each vCPU at peak: headroom for spikes and a lost node
    pod_vcpu: float = 1.0  # one pod: gunicorn 2 workers x 4 threads on one vCPU
    min_pods: int = 3  # the PodDisruptionBudget keeps 2 while a node drains (deploy/k8s)
    app_node_vcpu: int = 2  # c6i.large
    min_read_replicas: int = 1  # also the standby that is promoted when the primary dies
    pgbouncer_tps_per_process: float = 10_000.0  # single-threaded; conservative
    min_pgbouncers: int = 2
    redis_vcpu_per_shard: float = 1.0  # Redis executes commands on one thread
    db_storage_gb: int = 100
    mix: dict[str, float] = field(default_factory=lambda: dict(MIX))


@dataclass(frozen=True)
class EndpointCost:
    """What one request of a scenario costs, measured."""

    scenario: str
    connections: int
    requests: int
    backend_ms: float  # gunicorn + nginx
    postgres_ms: float
    redis_ms: float
    sql_per_request: float
    cache_hit_rate: float | None


def endpoint_costs(results: dict[str, Any]) -> dict[str, EndpointCost]:
    """Each scenario's cost per request, from its highest-concurrency run."""
    costs = {}
    for name, scenario in results["scenarios"].items():
        runs = scenario.get("runs") or {}
        if not runs:
            continue
        connections = max(runs, key=int)
        run = runs[connections]
        requests = run.get("requests") or 0
        if requests <= 0:
            continue
        cpu = run.get("cpu_s") or {}

        def ms(*groups: str, cpu: dict[str, float] = cpu, requests: int = requests) -> float:
            return 1000 * sum(cpu.get(group, 0.0) for group in groups) / requests

        costs[name] = EndpointCost(
            scenario=name,
            connections=int(connections),
            requests=int(requests),
            backend_ms=ms("backends", "nginx"),
            postgres_ms=ms("postgres"),
            redis_ms=ms("redis"),
            sql_per_request=float(run.get("sql_per_request") or 0.0),
            cache_hit_rate=run.get("cache_hit_rate"),
        )
    return costs


@dataclass(frozen=True)
class MixCost:
    """One request of the traffic mix, on average (the mix renormalised over the scenarios the
    run measured)."""

    backend_ms: float
    primary_ms: float
    replica_ms: float
    redis_ms: float
    sql_per_request: float
    cache_hit_rate: float | None
    missing: tuple[str, ...]


def mix_cost(costs: dict[str, EndpointCost], mix: dict[str, float]) -> MixCost:
    measured = {name: share for name, share in mix.items() if name in costs and share > 0}
    if not measured:
        raise ValueError("the results hold none of the mix's scenarios")
    total = sum(measured.values())
    weights = {name: share / total for name, share in measured.items()}

    def weighted(attr: str, names: Sequence[str] | None = None) -> float:
        return sum(
            weights[n] * getattr(costs[n], attr) for n in weights if names is None or n in names
        )

    primary = [n for n in weights if n in PRIMARY_SCENARIOS]
    replica = [n for n in weights if n not in PRIMARY_SCENARIOS]
    rates = {n: c.cache_hit_rate for n in weights if (c := costs[n]).cache_hit_rate is not None}
    hit_rate = None
    if rates:
        hit_rate = sum(weights[n] * rate for n, rate in rates.items()) / sum(
            weights[n] for n in rates
        )
    return MixCost(
        backend_ms=weighted("backend_ms"),
        primary_ms=weighted("postgres_ms", primary),
        replica_ms=weighted("postgres_ms", replica),
        redis_ms=weighted("redis_ms"),
        sql_per_request=weighted("sql_per_request"),
        cache_hit_rate=hit_rate,
        missing=tuple(sorted(set(mix) - set(measured))),
    )


def db_instance(vcpus_needed: float) -> tuple[str, int]:
    """The smallest PostgreSQL instance with enough vCPUs (the largest if none is)."""
    for name, vcpus in DB_INSTANCES:
        if vcpus >= vcpus_needed:
            return name, vcpus
    return DB_INSTANCES[-1]


def plan(users: int, cost: MixCost, a: Assumptions) -> dict[str, Any]:
    """Nodes and monthly cost for ``users`` at peak."""
    average_rps = users * a.requests_per_user_per_day / SECONDS_PER_DAY
    peak_rps = average_rps * a.peak_factor
    util = a.target_utilization

    app_vcpu = peak_rps * cost.backend_ms / 1000 / util
    pods = max(a.min_pods, math.ceil(app_vcpu / a.pod_vcpu))
    app_nodes = math.ceil(pods * a.pod_vcpu / a.app_node_vcpu)

    primary_vcpu = peak_rps * cost.primary_ms / 1000 / util
    primary_type, _ = db_instance(primary_vcpu)
    replica_vcpu = peak_rps * cost.replica_ms / 1000 / util
    replica_type, replica_size = db_instance(min(replica_vcpu, DB_INSTANCES[1][1]))
    replicas = max(a.min_read_replicas, math.ceil(replica_vcpu / replica_size))

    queries_per_second = peak_rps * cost.sql_per_request
    pgbouncers = max(a.min_pgbouncers, math.ceil(queries_per_second / a.pgbouncer_tps_per_process))

    redis_vcpu = peak_rps * cost.redis_ms / 1000 / util
    cache_shards = max(1, math.ceil(redis_vcpu / a.redis_vcpu_per_shard))
    # Each shard a master + a replica (Sentinel promotes it); the broker one more pair. The three
    # sentinels run beside them and on an app node: no node of their own.
    redis_nodes = 2 * cache_shards + 2

    monthly = _monthly_costs(
        a, app_nodes, (primary_type, replica_type, replicas), pgbouncers, redis_nodes
    )
    total = round(sum(monthly.values()), 2)
    return {
        "users": users,
        "average_rps": round(average_rps, 2),
        "peak_rps": round(peak_rps, 2),
        "app_vcpu": round(app_vcpu, 2),
        "pods": pods,
        "app_nodes": app_nodes,
        "postgres_primary": primary_type,
        "postgres_primary_vcpu_needed": round(primary_vcpu, 2),
        "postgres_replicas": replicas,
        "postgres_replica_type": replica_type,
        "postgres_replica_vcpu_needed": round(replica_vcpu, 2),
        "queries_per_second": round(queries_per_second, 1),
        "pgbouncers": pgbouncers,
        "redis_vcpu_needed": round(redis_vcpu, 3),
        "redis_cache_shards": cache_shards,
        "redis_nodes": redis_nodes,
        "monthly_usd": monthly,
        "monthly_total_usd": total,
        "seed_monthly_usd": SEED_MONTHLY_COST.get(users),
    }


def _monthly_costs(
    a: Assumptions,
    app_nodes: int,
    postgres: tuple[str, str, int],
    pgbouncers: int,
    redis_nodes: int,
) -> dict[str, float]:
    """Dollars a month per part, from the on-demand prices (``postgres``: the primary's
    instance type, the replicas' and how many replicas)."""
    primary_type, replica_type, replicas = postgres
    hourly = PRICES_PER_HOUR
    monthly = {
        "app_nodes": app_nodes * hourly["c6i.large"] * HOURS_PER_MONTH,
        "postgres": (hourly[primary_type] + replicas * hourly[replica_type]) * HOURS_PER_MONTH
        + (1 + replicas) * a.db_storage_gb * GP3_PER_GB_MONTH,
        # PgBouncer runs on the app nodes' spare vCPU at small scale: counted as one c6i.large
        # per two processes, so the cost is visible.
        "pgbouncer": math.ceil(pgbouncers / 2) * hourly["c6i.large"] * HOURS_PER_MONTH,
        "redis": redis_nodes * hourly["c6i.large"] * HOURS_PER_MONTH,
        "platform": (hourly["eks_cluster"] + hourly["alb"]) * HOURS_PER_MONTH,
    }
    return {key: round(value, 2) for key, value in monthly.items()}


def model(
    results: dict[str, Any], users: Sequence[int], assumptions: Assumptions
) -> dict[str, Any]:
    costs = endpoint_costs(results)
    cost = mix_cost(costs, assumptions.mix)
    return {
        "assumptions": asdict(assumptions),
        "prices": {
            "date": PRICES_DATE,
            "per_hour": PRICES_PER_HOUR,
            "gp3_gb_month": GP3_PER_GB_MONTH,
        },
        "endpoints": {name: asdict(c) for name, c in costs.items()},
        "mix_cost": asdict(cost),
        "plans": [plan(n, cost, assumptions) for n in users],
    }


def markdown(result: dict[str, Any], source: str) -> str:
    a = result["assumptions"]
    cost = result["mix_cost"]
    lines = [
        f"Capacity model from `{source}`: {a['requests_per_user_per_day']:g} requests per user "
        f"per day, peak factor {a['peak_factor']:g}, {a['target_utilization']:.0%} target CPU.",
        "",
        "| endpoint | share | c | backend ms | PostgreSQL ms | Redis ms | SQL/req | cache hits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, share in a["mix"].items():
        e = result["endpoints"].get(name)
        if e is None:
            lines.append(f"| {name} | {share:.0%} | - | not measured | | | | |")
            continue
        hits = "-" if e["cache_hit_rate"] is None else f"{e['cache_hit_rate']:.0%}"
        lines.append(
            f"| {name} | {share:.0%} | {e['connections']} | {e['backend_ms']:.2f} "
            f"| {e['postgres_ms']:.2f} | {e['redis_ms']:.3f} | {e['sql_per_request']:.2f} "
            f"| {hits} |"
        )
    lines += [
        "",
        f"One request of the mix: backend {cost['backend_ms']:.2f} ms CPU, PostgreSQL primary "
        f"{cost['primary_ms']:.2f} ms + replicas {cost['replica_ms']:.2f} ms, Redis "
        f"{cost['redis_ms']:.3f} ms, {cost['sql_per_request']:.2f} queries.",
        "",
        "| users | peak req/s | pods | app nodes | PG primary | PG replicas | PgBouncer "
        "| Redis nodes | $/month | seed's $/month |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in result["plans"]:
        seed = "-" if p["seed_monthly_usd"] is None else f"{p['seed_monthly_usd']:,}"
        lines.append(
            f"| {p['users']:,} | {p['peak_rps']:,.1f} | {p['pods']} | {p['app_nodes']} "
            f"| {p['postgres_primary']} | {p['postgres_replicas']} x {p['postgres_replica_type']} "
            f"| {p['pgbouncers']} | {p['redis_nodes']} | {p['monthly_total_usd']:,.0f} | {seed} |"
        )
    lines += ["", f"Prices: {result['prices']['date']}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__)
    parser.add_argument("results", type=Path, help="a make bench results.json")
    defaults = Assumptions()
    parser.add_argument(
        "--requests-per-user-day", type=float, default=defaults.requests_per_user_per_day
    )
    parser.add_argument("--peak-factor", type=float, default=defaults.peak_factor)
    parser.add_argument("--utilization", type=float, default=defaults.target_utilization)
    parser.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--json", action="store_true", help="print the model as JSON")
    args = parser.parse_args(argv)
    assumptions = Assumptions(
        requests_per_user_per_day=args.requests_per_user_day,
        peak_factor=args.peak_factor,
        target_utilization=args.utilization,
    )
    result = model(json.loads(args.results.read_text()), args.users, assumptions)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        sys.stdout.write(markdown(result, str(args.results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
