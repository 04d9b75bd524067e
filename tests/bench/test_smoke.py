"""`make bench-smoke`: the benchmark's whole code path — stack, seed, fixtures, every
scenario, comparison and ceiling, targets, report — in seconds, so it never rots. It runs
against a real stack on free loopback ports; nothing here asserts a timing or a ratio."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load.plan import COMPARISONS, SCENARIOS
from devstack.gunicorn import PROJECT_ROOT

pytestmark = pytest.mark.servers

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TARGETS = {
    "featured_vs_minimal",
    "nginx_vs_direct",
    "micro_cache_vs_static",
    "cached_vs_uncached",
    "cached_sql_per_request",
    "detail_vs_one_query",
    "throttling_on_vs_off",
    "booking_create_vs_floor",
    "booking_sql_per_request",
    "my_bookings_vs_floor",
    "availability_vs_floor",
    "mixed_vs_floors",
    "deep_vs_first",
    "deep_vs_first_grown",
    "zero_errors",
    "p99_vs_p50",
}


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "report"
    # A generous bound that catches a hang, not a duration the test cares about.
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return out


@pytest.mark.timeout(300)
def test_smoke_writes_the_report_files(smoke_report: Path) -> None:
    # given / when: a smoke run (the fixture)
    # then: the report, the raw results and every plot are there
    for name in ("report.md", "results.json"):
        assert (smoke_report / name).stat().st_size > 0, name
    for name in ("throughput.png", "p99.png", "targets.png", "comparisons.png"):
        assert (smoke_report / name).read_bytes()[:8] == PNG_MAGIC, name


@pytest.mark.timeout(300)
def test_smoke_results_hold_every_scenario_comparison_ceiling_and_target(
    smoke_report: Path,
) -> None:
    results = json.loads((smoke_report / "results.json").read_text())

    # then: machine facts at the top
    assert results["machine"]["cpus_usable"] >= 1
    assert results["machine"]["cpu_model"]
    # every scenario was measured, with the per-scenario figures the issue lists
    assert set(results["scenarios"]) == {scenario.name for scenario in SCENARIOS}
    for name, scenario in results["scenarios"].items():
        for run in scenario["runs"].values():
            assert run["requests"] > 0, name
            assert {"p50", "p95", "p99"} <= set(run["latency_ms"]), name
            assert {"errors", "non_2xx", "sql_per_request", "cache_hit_rate"} <= set(run), name
            assert run["cpu_ms_per_request"]["backends"] is not None, name
    # every comparison has both sides and a ratio
    assert set(results["comparisons"]) == {c.key for c in COMPARISONS} | {
        "deep_vs_first_page_grown"
    }
    for key, comparison in results["comparisons"].items():
        assert comparison["ratio"] is not None, key
        assert comparison["a"]["runs"] and comparison["b"]["runs"], key
    # the ceilings of the same run
    assert {
        "nginx_static_file",
        "minimal_django_json",
        "minimal_django_one_query",
        "redis_get",
        "pgbench_select_only",
    } <= set(results["ceilings"])
    assert results["ceilings"]["redis_get"]["ops_per_s"] > 0
    assert results["ceilings"]["pgbench_select_only"]["tps"] > 0
    # each target with a measured value and a verdict
    assert {target["name"] for target in results["targets"]} == TARGETS
    for target in results["targets"]:
        assert target["measured"] is not None, target["name"]
        assert target["passed"] in (True, False), target["name"]
    # the micro-cache never stores a personal answer
    assert results["micro_cache_probe"]["personal_never_cached"] is True


@pytest.mark.timeout(300)
def test_smoke_report_has_targets_section(smoke_report: Path) -> None:
    text = (smoke_report / "report.md").read_text()
    for heading in ("## Targets", "## Comparisons", "## Ceilings", "## Scenarios"):
        assert heading in text
    assert "**CPU**" in text.split("## Targets")[0]  # machine facts come first
    results = json.loads((smoke_report / "results.json").read_text())
    for target in results["targets"]:
        assert target["description"] in text
