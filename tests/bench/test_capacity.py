"""bench/capacity.py: the capacity model's arithmetic on a fixture results.json (hand-checked
numbers in the comments)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.capacity import Assumptions, endpoint_costs, mix_cost, model, plan

FIXTURE = Path(__file__).parent / "fixtures" / "capacity_results.json"
ROOT = Path(__file__).resolve().parents[2]
# Half of the mix unmeasured: the measured half is renormalised to 0.9 / 0.1.
MIX = {"featured": 0.45, "booking_create": 0.05, "search": 0.5}


def results() -> dict:
    return json.loads(FIXTURE.read_text())


def test_cost_per_request_comes_from_the_highest_concurrency_run():
    costs = endpoint_costs(results())
    # "32" > "8" as numbers, not as strings; a scenario without runs is left out
    assert set(costs) == {"featured", "booking_create"}
    featured = costs["featured"]
    assert featured.connections == 32
    assert featured.backend_ms == pytest.approx(2.5)  # (20 + 5) s / 10,000 requests
    assert featured.postgres_ms == 0 and featured.redis_ms == pytest.approx(0.1)
    assert costs["booking_create"].backend_ms == pytest.approx(10.5)  # (10 + 0.5) / 1,000
    assert costs["booking_create"].postgres_ms == pytest.approx(4.0)


def test_the_mix_weights_measured_endpoints_and_sends_writes_to_the_primary():
    cost = mix_cost(endpoint_costs(results()), MIX)
    assert cost.missing == ("search",)
    assert cost.backend_ms == pytest.approx(0.9 * 2.5 + 0.1 * 10.5)  # 3.3
    assert cost.primary_ms == pytest.approx(0.1 * 4.0)
    assert cost.replica_ms == pytest.approx(0.0)
    assert cost.redis_ms == pytest.approx(0.9 * 0.1 + 0.1 * 0.2)  # 0.11
    assert cost.sql_per_request == pytest.approx(1.2)
    assert cost.cache_hit_rate == pytest.approx(1.0)  # only featured reports one


def test_a_million_users_at_peak():
    assumptions = Assumptions(mix=MIX)  # 20 requests/user/day, peak x8, 60 % CPU
    cost = mix_cost(endpoint_costs(results()), MIX)
    p = plan(1_000_000, cost, assumptions)
    # 1e6 x 20 / 86,400 = 231.48 req/s on average, x 8 = 1,851.85 at peak
    assert p["average_rps"] == pytest.approx(231.48, abs=0.01)
    assert p["peak_rps"] == pytest.approx(1851.85, abs=0.01)
    # 1,851.85 x 3.3 ms / 0.6 = 10.19 vCPU -> 11 one-vCPU pods on 6 two-vCPU nodes
    assert p["app_vcpu"] == pytest.approx(10.19, abs=0.01)
    assert (p["pods"], p["app_nodes"]) == (11, 6)
    # primary: 1,851.85 x 0.4 ms / 0.6 = 1.23 vCPU -> the 2-vCPU instance; 1 replica minimum
    assert p["postgres_primary"] == "m6i.large"
    assert p["postgres_replicas"] == 1
    # 2,222 queries/s: two PgBouncers (the floor); Redis 0.34 vCPU: one shard + the broker
    assert p["queries_per_second"] == pytest.approx(2222.2, abs=0.1)
    assert p["pgbouncers"] == 2
    assert (p["redis_cache_shards"], p["redis_nodes"]) == (1, 4)
    # $: 6 x 0.085 x 730 = 372.30; PG 2 x 0.096 x 730 + 2 x 100 GB x 0.08 = 156.16;
    # PgBouncer 62.05; Redis 4 x 62.05 = 248.20; EKS + ALB 0.1225 x 730 = 89.43
    assert p["monthly_usd"]["app_nodes"] == pytest.approx(372.30)
    assert p["monthly_usd"]["postgres"] == pytest.approx(156.16)
    assert p["monthly_usd"]["pgbouncer"] == pytest.approx(62.05)
    assert p["monthly_usd"]["redis"] == pytest.approx(248.20)
    assert p["monthly_usd"]["platform"] == pytest.approx(89.42, abs=0.01)
    assert p["monthly_total_usd"] == pytest.approx(928.13, abs=0.02)
    assert p["seed_monthly_usd"] == 10_000


def test_small_sites_get_the_availability_floors():
    result = model(results(), [10_000], Assumptions(mix=MIX))
    p = result["plans"][0]
    assert p["peak_rps"] == pytest.approx(18.52, abs=0.01)
    assert (p["pods"], p["app_nodes"], p["postgres_replicas"], p["pgbouncers"]) == (3, 2, 1, 2)
    assert p["redis_nodes"] == 4


def test_the_command_prints_the_table():
    done = subprocess.run(
        [sys.executable, "-m", "bench.capacity", str(FIXTURE), "--users", "10000", "100000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "| 10,000 |" in done.stdout and "| 100,000 |" in done.stdout
    assert "not measured" in done.stdout  # the default mix's endpoints the fixture lacks
