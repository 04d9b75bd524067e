"""How big and how long a benchmark run is: the full run (``make bench``) and the smoke run
(``make bench-smoke``, the same code path in well under a minute)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from devstack.topology import DEFAULT_THREADS, DEFAULT_WORKERS

# Reviews exist only for completed bookings (one each), so 50k reviews need ~60k bookings:
# seed_demo's --bookings tops the booking volume up past the scale's 40 per unit.
FULL_BOOKINGS = 62_000


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    out_dir: Path
    smoke: bool = False
    # seed_demo --scale (500: 100k posts, 10k customers) and --bookings (None: the scale's).
    scale: int = 500
    bookings: int | None = FULL_BOOKINGS
    # Customers given API tokens: the authenticated and mixed traffic spreads over them.
    token_customers: int = 2000
    duration_s: int = 10
    warmup_s: int = 2
    connections: tuple[int, ...] = (16, 64, 256)
    # Comparisons and ceilings run at one concurrency, in alternating rounds (A B A B): the
    # host's speed drifts by up to 30 % between runs, so only neighbours are compared.
    compare_connections: int = 64
    # The deep-cursor check compares latencies at a concurrency that does not saturate.
    latency_connections: int = 16
    rounds: int = 2
    wrk_threads: int = 2
    # gunicorn gthread processes per backend (every backend, variant and the floor alike) and
    # threads per process: the local stack's defaults, or e.g. 2 x 4 to compare.
    backend_workers: int = DEFAULT_WORKERS
    backend_threads: int = DEFAULT_THREADS
    # After everything else, posts are copied up to this many and the deep-cursor check runs
    # again (None: skip).
    grow_posts_to: int | None = 1_000_000
    redis_requests: int = 200_000
    pgbench_scale: int = 10
    pgbench_seconds: int = 10
    # Requests per run of the pooler's cost (bench/load/pooling.py), direct and through PgBouncer.
    pooling_requests: int = 4000
    # py-spy the cached featured-posts path on one backend (needs py-spy: requirements-bench).
    profile: bool = False

    @classmethod
    def smoke_run(cls, out_dir: Path) -> BenchConfig:
        return cls(
            out_dir=out_dir,
            smoke=True,
            scale=1,
            bookings=None,
            token_customers=20,
            duration_s=1,
            warmup_s=0,
            connections=(8,),
            compare_connections=8,
            latency_connections=4,
            rounds=1,
            grow_posts_to=400,
            redis_requests=2000,
            pgbench_scale=1,
            pgbench_seconds=1,
            pooling_requests=200,
        )

    @property
    def summary_connections(self) -> int:
        """The concurrency the summary's p99/p50 check reads (64 when measured)."""
        return 64 if 64 in self.connections else self.compare_connections
