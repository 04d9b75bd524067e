"""The issue's targets, as ratios measured in the same run, and whether each was met."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.load.config import BenchConfig
from bench.load.fixtures import MIXED_READ_WEIGHTS, MIXED_WRITE_SHARE

# Each request of the mixed scenario and the comparison whose B side is its floor. The blog's
# reads are answered mostly from the result cache: their floor is the constant-JSON view, post
# detail's (5k slugs, partly uncached) the one-query view.
MIXED_FLOORS = {
    "featured": "drf_vs_minimal",
    "post_list_first": "drf_vs_minimal",
    "search": "drf_vs_minimal",
    "review_stats": "drf_vs_minimal",
    "post_detail": "detail_uncached_vs_one_query",
    "availability": "availability_vs_floor",
    "my_bookings": "my_bookings_vs_floor",
    "booking_create": "booking_create_vs_floor",
}
# The mixed scenario's answers/s before the booking path's work (docs/benchmarks/2026-11-26.md,
# 16 / 64 / 256 connections: 157 / 232 / 187).
MIXED_BEFORE = "157-232/s"


def _ratio(results: dict[str, Any], key: str) -> float | None:
    comparison = results["comparisons"].get(key)
    return comparison["ratio"] if comparison else None


def _target(
    name: str, description: str, measured: float | None, *, at_least: float | None = None,
    at_most: float | None = None, unit: str = "x", extra_ok: bool = True, note: str = "",
) -> dict[str, Any]:  # fmt: skip
    if measured is None:
        passed = None
    elif at_least is not None:
        passed = measured >= at_least and extra_ok
    else:
        assert at_most is not None
        passed = measured <= at_most and extra_ok
    wanted = f"≥ {at_least:g}{unit}" if at_least is not None else f"≤ {at_most:g}{unit}"
    return {
        "name": name,
        "description": description,
        "target": wanted,
        "measured": measured,
        "unit": unit,
        "passed": passed,
        "note": note,
    }


def _all_runs(results: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, scenario in results["scenarios"].items():
        for connections, run in scenario["runs"].items():
            yield f"{name} c={connections}", run
    for key, comparison in results["comparisons"].items():
        for side in ("a", "b"):
            for index, run in enumerate(comparison[side]["runs"], start=1):
                yield f"{key}/{comparison[side]['label']} #{index}", run


def evaluate(results: dict[str, Any], config: BenchConfig) -> list[dict[str, Any]]:
    return [
        *_serving_targets(results),
        *_app_targets(results),
        *_booking_floor_targets(results),
        _mixed_vs_floors_target(results, config),
        *_cursor_targets(results),
        _zero_errors_target(results),
        _tail_target(results, config),
    ]


def _serving_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """What the framework, nginx and the micro-cache cost against their ceilings."""
    probe = results.get("micro_cache_probe", {})
    probe_ok = bool(probe.get("personal_never_cached") and probe.get("honours_cache_control"))
    return [
        _target(
            "featured_vs_minimal",
            "Cached featured posts, direct to one backend, vs the minimal Django view",
            _ratio(results, "drf_vs_minimal"),
            at_least=0.6,
        ),
        _target(
            "nginx_vs_direct",
            "Through nginx vs direct to the same backend (featured posts)",
            _ratio(results, "nginx_vs_direct"),
            at_least=0.75,
        ),
        _target(
            "micro_cache_vs_static",
            "nginx micro-cache hits vs the nginx static-file ceiling "
            "(and: honours Cache-Control, never caches personal answers)",
            _ratio(results, "micro_cache_vs_static"),
            at_least=0.8,
            extra_ok=probe_ok,
            note="" if probe_ok else "the Cache-Control / personal-answer probe failed",
        ),
    ]


def _app_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """What the app's cache, queries and throttling give or cost."""
    return [
        _target(
            "cached_vs_uncached",
            "Featured posts, cache on vs off (throughput)",
            _ratio(results, "cache_on_vs_off"),
            at_least=3,
        ),
        _target(
            "cached_sql_per_request",
            "SQL queries per cached featured-posts request",
            _cached_sql_per_request(results),
            at_most=0.05,
            unit="",
        ),
        _target(
            "detail_vs_one_query",
            "Post detail uncached vs the minimal one-query view",
            _ratio(results, "detail_uncached_vs_one_query"),
            at_least=0.8,
        ),
        _target(
            "throttling_on_vs_off",
            "Throttling on vs off (featured posts, direct)",
            _ratio(results, "throttling_on_vs_off"),
            at_least=0.9,
        ),
    ]


def _cached_sql_per_request(results: dict[str, Any]) -> float | None:
    return _sql_per_request(results, "cache_on_vs_off")


def _sql_per_request(results: dict[str, Any], key: str) -> float | None:
    """SQL statements per request of a comparison's A side: the backends' statements over
    their own answers (/metrics), not over wrk's count (see ``appmetrics.scrape_settled``)."""
    comparison = results["comparisons"].get(key)
    if not comparison:
        return None
    counters = [run["app"] or {} for run in comparison["a"]["runs"]]
    queries = sum(app.get("queries", 0) for app in counters)
    requests = sum(app.get("requests", 0) for app in counters)
    return queries / requests if requests else None


def _booking_floor_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The booking path against the framework's floors for the same requests."""
    return [
        _target(
            "booking_create_vs_floor",
            "Booking creation, direct to one backend, vs the minimal booking view",
            _ratio(results, "booking_create_vs_floor"),
            at_least=0.5,
        ),
        _target(
            "booking_sql_per_request",
            "SQL statements per booking creation (direct)",
            _sql_per_request(results, "booking_create_vs_floor"),
            at_most=6,
            unit="",
        ),
        _target(
            "my_bookings_vs_floor",
            "A customer's bookings, direct, vs the minimal one-query list",
            _ratio(results, "my_bookings_vs_floor"),
            at_least=0.7,
        ),
        _target(
            "availability_vs_floor",
            "Availability (30 days), direct, vs the minimal one-query availability",
            _ratio(results, "availability_vs_floor"),
            at_least=0.5,
        ),
    ]


def mixed_shares() -> dict[str, float]:
    """Each request's share of the mixed scenario: mixed.lua's writes, and its reads drawn
    by MIXED_READ_WEIGHTS (bench/load/fixtures.py)."""
    reads = sum(MIXED_READ_WEIGHTS.values())
    shares = {
        name: (1 - MIXED_WRITE_SHARE) * weight / reads
        for name, weight in MIXED_READ_WEIGHTS.items()
    }
    shares["booking_create"] = MIXED_WRITE_SHARE
    return shares


def mixed_floor(results: dict[str, Any]) -> float | None:
    """The floors' answers/s for the mixed scenario: their weighted harmonic mean, since a
    request's cost is the inverse of its floor's rate and the mix's costs add up by share.
    None when a floor was not measured."""
    cost = 0.0
    for name, share in mixed_shares().items():
        comparison = results["comparisons"].get(MIXED_FLOORS[name])
        rate = comparison["b"]["value"] if comparison else None
        if not rate:
            return None
        cost += share / rate
    return 1 / cost


def _mixed_vs_floors_target(results: dict[str, Any], config: BenchConfig) -> dict[str, Any]:
    connections = str(config.summary_connections)
    run = results["scenarios"].get("mixed", {}).get("runs", {}).get(connections)
    mixed = run["ok_per_s"] if run else None
    floor = mixed_floor(results)
    notes = []
    if mixed is not None:
        notes.append(f"mixed {mixed:,.0f}/s at {connections} connections, was {MIXED_BEFORE}")
    if floor is not None:
        notes.append(f"floors' mix {floor:,.0f}/s")
    return _target(
        "mixed_vs_floors",
        "Mixed 90 % reads / 10 % bookings through nginx vs its parts' floors "
        "(weighted harmonic mean, direct to the minimal app)",
        mixed / floor if mixed is not None and floor else None,
        at_least=0.35,
        note="; ".join(notes),
    )


def _cursor_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The deep cursor page costs what the first does, at the seeded and the grown size."""
    grown = results.get("grown", {}).get("volumes", {}).get("posts")
    base_posts = results.get("fixtures", {}).get("volumes", {}).get("posts")
    return [
        _target(
            "deep_vs_first",
            f"Deep cursor page p50 / first page p50 at {base_posts or '?'} posts",
            _ratio(results, "deep_vs_first_page"),
            at_most=1.2,
        ),
        _target(
            "deep_vs_first_grown",
            f"Deep cursor page p50 / first page p50 at {grown or '?'} posts",
            _ratio(results, "deep_vs_first_page_grown"),
            at_most=1.2,
        ),
    ]


def _zero_errors_target(results: dict[str, Any]) -> dict[str, Any]:
    failing = [
        f"{label}: {run['errors']} errors, {run['non_2xx']} non-2xx "
        f"({', '.join(f'{s}: {n}' for s, n in run['statuses'].items() if s[0] != '2')})"
        for label, run in _all_runs(results)
        if run["errors"] or run["non_2xx"]
    ]
    total_runs = sum(1 for _ in _all_runs(results))
    return _target(
        "zero_errors",
        f"Runs with errors or non-2xx answers (of {total_runs})",
        float(len(failing)),
        at_most=0,
        unit="",
        note="; ".join(failing[:8]) + (" ..." if len(failing) > 8 else ""),
    )


def _tail_target(results: dict[str, Any], config: BenchConfig) -> dict[str, Any]:
    tails = []
    summary_connections = str(config.summary_connections)
    for name, scenario in results["scenarios"].items():
        run = scenario["runs"].get(summary_connections)
        if run and run["latency_ms"]["p50"]:
            tails.append((name, run["latency_ms"]["p99"] / run["latency_ms"]["p50"]))
    worst_tail = max(tails, key=lambda item: item[1]) if tails else None
    return _target(
        "p99_vs_p50",
        f"Worst p99 / p50 over the scenarios at {summary_connections} connections",
        worst_tail[1] if worst_tail else None,
        at_most=10,
        note=f"worst: {worst_tail[0]}" if worst_tail else "",
    )
