"""What the load benchmark runs: the scenarios (one request list each, through nginx at every
concurrency) and the comparisons (two sides measured in alternating rounds)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    script: str = "requests.lua"


SCENARIOS = (
    Scenario("featured", "Featured posts (anonymous, cached)"),
    Scenario("post_list_first", "Post list, first page"),
    Scenario("post_list_deep", "Post list, deep cursor page (90 % down)"),
    Scenario("post_detail", "Post detail (5k slugs)"),
    Scenario("search", "Search (?q=, 24 words)"),
    Scenario("review_stats", "Review stats"),
    Scenario("availability", "Availability, 30 days"),
    Scenario("my_bookings", "A customer's bookings (token, many customers)"),
    Scenario("booking_create", "Booking creation (token, many customers)"),
    Scenario("mixed", "Mixed: 90 % reads / 10 % booking writes", "mixed.lua"),
)


@dataclasses.dataclass(frozen=True)
class Side:
    """One side of a comparison: a request list against an endpoint, with nginx configured
    as ``nginx`` says (micro-cache on/off, "all" backends or "one") when it is in the path."""

    label: str
    endpoint: str
    requests: str
    nginx: tuple[bool, str] | None = None


@dataclasses.dataclass(frozen=True)
class Comparison:
    key: str
    title: str
    a: Side
    b: Side
    metric: str = "requests_per_s"  # or "p50" (latency: a / b, lower is better)
    connections: str = "compare"  # or "latency"
    note: str = ""


COMPARISONS = (
    Comparison(
        "cache_on_vs_off",
        "Cache on vs off (featured posts, direct to one backend)",
        Side("cache on", "backend1", "featured"),
        Side("cache off", "nocache", "featured"),
    ),
    Comparison(
        "micro_cache_on_vs_off",
        "nginx micro-cache on vs off (featured posts, 3 backends)",
        Side("micro-cache on", "nginx", "featured", (True, "all")),
        Side("micro-cache off", "nginx", "featured", (False, "all")),
    ),
    Comparison(
        "micro_cache_vs_static",
        "nginx micro-cache hit vs nginx static file",
        Side("micro-cache hit", "nginx", "featured", (True, "all")),
        Side("static file", "nginx", "static", (True, "all")),
    ),
    Comparison(
        "nginx_vs_direct",
        "Through nginx vs direct to one backend (featured posts, nginx -> that backend)",
        Side("through nginx", "nginx", "featured", (False, "one")),
        Side("direct", "backend1", "featured"),
    ),
    Comparison(
        "throttling_on_vs_off",
        "Throttling on vs off (featured posts, direct)",
        Side("throttling on", "backend1", "featured"),
        Side("throttling off", "nothrottle", "featured"),
    ),
    Comparison(
        "three_vs_one_backend",
        "3 backends vs 1 behind nginx (post detail, cached, micro-cache off)",
        Side("3 backends", "nginx", "post_detail", (False, "all")),
        Side("1 backend", "nginx", "post_detail", (False, "one")),
    ),
    Comparison(
        "replica_vs_primary",
        "Replica routing vs primary only (post detail, uncached, direct)",
        Side("replica reads", "nocache", "post_detail"),
        Side("primary only", "nocache_primary", "post_detail"),
    ),
    Comparison(
        "drf_vs_minimal",
        "DRF endpoint (featured, cached) vs minimal Django view (constant JSON), direct",
        Side("featured posts", "backend1", "featured"),
        Side("minimal view", "minimal", "minimal_json"),
    ),
    Comparison(
        "detail_uncached_vs_one_query",
        "Post detail uncached vs minimal one-query view, direct",
        Side("post detail, cache off", "nocache", "post_detail"),
        Side("minimal one query", "minimal", "minimal_one_query"),
    ),
    # The booking path against its floors (bench/minimal/urls.py): the same requests, the
    # essential queries in one view with nothing in front of it.
    Comparison(
        "booking_create_vs_floor",
        "Booking creation vs the minimal booking view (lock, count, insert, outbox), direct",
        Side("booking creation", "backend1", "booking_create"),
        Side("minimal booking", "minimal", "minimal_booking_create"),
    ),
    Comparison(
        "my_bookings_vs_floor",
        "A customer's bookings vs the minimal one-query list, direct",
        Side("my bookings", "backend1", "my_bookings"),
        Side("minimal bookings list", "minimal", "minimal_my_bookings"),
    ),
    Comparison(
        "availability_vs_floor",
        "Availability, 30 days, vs the minimal one-query count per slot, direct",
        Side("availability", "backend1", "availability"),
        Side("minimal availability", "minimal", "minimal_availability"),
    ),
    Comparison(
        "deep_vs_first_page",
        "Deep cursor page vs first page, p50 latency (cache off, direct)",
        Side("deep page", "nocache", "post_list_deep"),
        Side("first page", "nocache", "post_list_first"),
        metric="p50",
        connections="latency",
    ),
)
GROWN_COMPARISON = dataclasses.replace(
    COMPARISONS[-1],
    key="deep_vs_first_page_grown",
    title="Deep cursor page vs first page at the grown post count, p50 latency",
)
