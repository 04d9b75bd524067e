"""One benchmark run: start the stack, seed and warm it, measure ceilings, scenarios and
comparisons with wrk, check the targets, write the report.

Everything runs on this machine (loopback only) and every load is bounded in time. The
stack is the local production topology (devstack/topology.py) with, next to its
three backends, a few more started with one switch changed (cache off, throttling off, cache
off and primary only) and the minimal Django app (bench/minimal), all under
deploy/gunicorn.conf.py (bench/load/stack.py); what is measured is in bench/load/plan.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load import appmetrics, ceilings, pooling, report, targets
from bench.load.config import BenchConfig
from bench.load.fixtures import MIXED_WRITE_SHARE
from bench.load.loadgen import Measurement, run_wrk
from bench.load.machine import machine_facts
from bench.load.plan import COMPARISONS, GROWN_COMPARISON, SCENARIOS, Comparison
from bench.load.stack import BenchStack, Endpoint, http_get

# Samples enough for a stable profile even in the smoke run.
PROFILE_SECONDS = 10


class Bench:
    def __init__(self, config: BenchConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.say = log
        self.started = time.monotonic()
        self.lab = BenchStack(log, workers=config.backend_workers, threads=config.backend_threads)
        self.requests_dir = self.lab.state_dir / "requests"
        self.results: dict[str, Any] = {
            "config": {
                key: (str(value) if isinstance(value, Path) else value)
                for key, value in dataclasses.asdict(config).items()
            },
            "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "scenarios": {},
            "comparisons": {},
            "ceilings": {},
            "steps": {},
        }

    # ------------------------------------------------------------------ the whole run
    def run(self) -> Path:
        config = self.config
        config.out_dir.mkdir(parents=True, exist_ok=True)
        self.results["machine"] = machine_facts()
        try:
            self._step("stack", self.lab.start)
            # The extra backends start while the data is loaded: they need none to boot.
            self._step("variants", self.lab.spawn_variants)
            self._step("seed", self._seed)
            self._step("fixtures", lambda: self._prepare(self.requests_dir))
            self._step("variants_ready", self.lab.variants_ready)
            self._step("warm", self._warm)
            self._step("probes", self._probe_micro_cache)
            self._step("ceilings", self._store_ceilings)
            self._step("scenarios", self._scenarios)
            self._step("comparisons", self._comparisons)
            if config.profile:
                self._step("profile", self._profile)
            if config.grow_posts_to:
                self._step("grow", self._grow_posts)
        finally:
            self._step("stop", self.lab.stop)
        self.results["finished_at"] = datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"
        )
        self.results["machine"]["load_average_at_end"] = list(os.getloadavg())
        self.results["targets"] = targets.evaluate(self.results, config)
        report.write(self.results, config.out_dir)
        self.say(f"report: {config.out_dir / 'report.md'}")
        return config.out_dir

    def _step(self, name: str, action: Callable[[], object]) -> None:
        self.say(f"[{time.monotonic() - self.started:6.1f}s] {name}")
        began = time.monotonic()
        action()
        self.results["steps"][name] = round(time.monotonic() - began, 1)

    # ------------------------------------------------------------------ set-up
    def _seed(self) -> None:
        args = ["manage.py", "seed_demo", "--scale", str(self.config.scale)]
        if self.config.bookings is not None:
            args += ["--bookings", str(self.config.bookings)]
        self.say("    " + self.lab.python(args, timeout=3600).strip().splitlines()[0])
        assert self.lab.stack.servers is not None
        postgres = self.lab.stack.servers.postgres
        postgres.primary.query("VACUUM ANALYZE", dbname=postgres.database)
        postgres.wait_for_replay(timeout=600)

    def _prepare(self, directory: Path) -> dict[str, Any]:
        args = ["-m", "bench.load.fixtures", "prepare", str(directory)]
        output = self.lab.python([*args, "--customers", str(self.config.token_customers)], 600)
        fixtures = json.loads(output.strip().splitlines()[-1])
        featured = http_get(f"{self.lab.endpoints['backend1'].url}/api/v1/blog/posts/featured/")
        answer_bytes = int(featured["headers"].get("content-length", "0"))
        static = _static_file_like(self.lab.stack.static_root, answer_bytes)
        (directory / "static.txt").write_text(f"GET\t/static/{static}\t\t\n")
        self.results.setdefault("fixtures", fixtures)
        self.results["fixtures"]["static_file"] = static
        self.results["fixtures"]["static_file_bytes"] = (
            (self.lab.stack.static_root / static).stat().st_size
        )
        self.results["fixtures"]["featured_answer_bytes"] = answer_bytes
        assert self.lab.stack.servers is not None
        self.lab.stack.servers.postgres.wait_for_replay(timeout=120)
        return fixtures

    def _warm(self) -> None:
        self.lab.python(["manage.py", "warm_cache"], timeout=600)
        # A pass of the mixed reads through every app endpoint fills the per-process tiers
        # and opens the database and Redis connections of every worker.
        seconds = 2 * self.config.warmup_s  # none in the smoke run
        for name in ("nginx", "backend1", "nocache", "nothrottle", "nocache_primary"):
            if seconds:
                self._wrk(self.lab.endpoints[name], "mixed_reads", "requests.lua", 16, seconds)

    def _probe_micro_cache(self) -> None:
        """Does the micro-cache honour the app's Cache-Control, and never keep a personal
        answer? Asked of the real nginx with the micro-cache on."""
        self.lab.configure_nginx((True, "all"))
        base = self.lab.endpoints["nginx"].url
        token = (self.requests_dir / "my_bookings.txt").read_text().split("\t")[2]
        public = [http_get(f"{base}/api/v1/blog/posts/featured/?limit=3") for _ in range(3)]
        personal = [
            http_get(f"{base}/api/v1/bookings/", {"Authorization": f"Token {token}"})
            for _ in range(3)
        ]
        public_control = public[-1]["headers"].get("cache-control", "")
        personal_control = personal[-1]["headers"].get("cache-control", "")
        self.results["micro_cache_probe"] = {
            "public_cache_control": public_control,
            "public_cache_status": [r["headers"].get("x-cache-status") for r in public],
            "personal_cache_control": personal_control,
            "personal_cache_status": [r["headers"].get("x-cache-status") for r in personal],
            "statuses": [r["status"] for r in public + personal],
            "public_served_from_cache": public[-1]["headers"].get("x-cache-status") == "HIT",
            "personal_never_cached": all(
                r["headers"].get("x-cache-status") != "HIT" for r in personal
            ),
            "honours_cache_control": ("public" in public_control and "private" in personal_control),
        }

    # ------------------------------------------------------------------ measurements
    def _wrk(
        self, endpoint: Endpoint, requests: str, script: str, connections: int, seconds: int
    ) -> Measurement:
        env = {
            "BENCH_REQUESTS": str(self.requests_dir / f"{requests}.txt"),
            "BENCH_READS": str(self.requests_dir / "mixed_reads.txt"),
            "BENCH_WRITES": str(self.requests_dir / "booking_create.txt"),
            "BENCH_WRITE_SHARE": str(MIXED_WRITE_SHARE),
        }
        return run_wrk(
            endpoint.url,
            script=script,
            env=env,
            connections=connections,
            duration_s=seconds,
            threads=self.config.wrk_threads,
            cpu_groups=self.lab.cpu_groups(endpoint),
        )

    def measure(
        self, endpoint: Endpoint, requests: str, connections: int, *, script: str = "requests.lua"
    ) -> dict[str, Any]:
        """Warm up, then one measured wrk run with the backends' counters around it."""
        settled = self.lab.settle(endpoint)
        if self.config.warmup_s:
            self._wrk(endpoint, requests, script, connections, self.config.warmup_s)
        urls = [backend.url for backend in endpoint.backends]
        # Each side once the backends have answered what they were serving: the statements
        # and the answers of one set of requests (appmetrics.scrape_settled).
        before = appmetrics.scrape_settled(urls)
        measurement = self._wrk(endpoint, requests, script, connections, self.config.duration_s)
        counters = appmetrics.scrape_settled(urls) - before
        if endpoint.through_nginx and any(s.startswith("5") for s in measurement.statuses):
            self.lab.nginx_saw_errors = True
        result = measurement.as_dict()
        cpu = measurement.cpu_s
        stack_cpu = sum(
            cpu.get(group, 0.0)
            for group in ("backends", "nginx", "postgres", "redis", "background")
        )
        result.update(
            settle_s=round(settled, 2),
            endpoint=endpoint.name,
            url=endpoint.url,
            requests_list=requests,
            connections=connections,
            app=counters.as_dict() if urls else None,
            # per answer the backends counted in the window, not per answer wrk received: a
            # request wrk gave up on at the end still ran its statements
            sql_per_request=(counters.queries / counters.requests if counters.requests else None),
            cache_hit_rate=counters.cache_hit_rate if urls else None,
            stack_cpu_ms_per_request=(
                1000 * stack_cpu / measurement.requests if measurement.requests else None
            ),
        )
        return result

    def _scenarios(self) -> None:
        """Every scenario through nginx (micro-cache off: the app answers every request) to
        the three backends, at every concurrency."""
        self.lab.configure_nginx((False, "all"))
        nginx = self.lab.endpoints["nginx"]
        for scenario in SCENARIOS:
            runs = {}
            for connections in self.config.connections:
                self.say(f"    {scenario.name} c={connections}")
                runs[str(connections)] = self.measure(
                    nginx, scenario.name, connections, script=scenario.script
                )
            self.results["scenarios"][scenario.name] = {
                "title": scenario.title,
                "endpoint": "nginx (micro-cache off) -> 3 backends",
                "runs": runs,
            }

    def _comparisons(self) -> None:
        for comparison in COMPARISONS:
            self._compare(comparison)
        ceilings_ = self.results["ceilings"]
        ceilings_["nginx_static_file"] = _side_summary(
            self.results["comparisons"]["micro_cache_vs_static"], "b"
        )
        ceilings_["minimal_django_json"] = _side_summary(
            self.results["comparisons"]["drf_vs_minimal"], "b"
        )
        ceilings_["minimal_django_one_query"] = _side_summary(
            self.results["comparisons"]["detail_uncached_vs_one_query"], "b"
        )
        # The booking path's floors, beside the framework's (the report's ceilings table).
        for floor in ("booking_create", "my_bookings", "availability"):
            ceilings_[f"minimal_{floor}"] = _side_summary(
                self.results["comparisons"][f"{floor}_vs_floor"], "b"
            )

    def _compare(self, comparison: Comparison) -> None:
        connections = (
            self.config.latency_connections
            if comparison.connections == "latency"
            else self.config.compare_connections
        )
        self.say(f"    {comparison.key} c={connections}")
        runs: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        for _ in range(self.config.rounds):
            for key, side in (("a", comparison.a), ("b", comparison.b)):
                if side.nginx is not None:
                    self.lab.configure_nginx(side.nginx)
                runs[key].append(
                    self.measure(self.lab.endpoints[side.endpoint], side.requests, connections)
                )
        value = {key: _mean_metric(side_runs, comparison.metric) for key, side_runs in runs.items()}
        self.results["comparisons"][comparison.key] = {
            "title": comparison.title,
            "metric": comparison.metric,
            "connections": connections,
            "a": {"label": comparison.a.label, "value": value["a"], "runs": runs["a"]},
            "b": {"label": comparison.b.label, "value": value["b"], "runs": runs["b"]},
            "ratio": value["a"] / value["b"] if value["b"] else None,
        }

    # ------------------------------------------------------------------ ceilings of the stores
    def _store_ceilings(self) -> None:
        assert self.lab.stack.servers is not None and self.lab.stack.servers.redis is not None
        redis_port = self.lab.stack.servers.redis.port
        assert redis_port is not None
        self.results["ceilings"]["redis_get"] = ceilings.redis_get(
            port=redis_port, requests=self.config.redis_requests
        )
        postgres = self.lab.stack.servers.postgres
        assert postgres.primary is not None
        self.results["ceilings"]["pgbench_select_only"] = ceilings.pgbench_select_only(
            postgres.primary,
            scale=self.config.pgbench_scale,
            clients=min(16, self.config.compare_connections),
            seconds=self.config.pgbench_seconds,
        )
        # What PgBouncer (transaction mode) adds per request, against this primary
        # (bench/load/pooling.py; docs/pooling.md).
        self.results["ceilings"]["pgbouncer"] = pooling.measure(
            postgres.primary,
            base_dir=self.lab.state_dir / "pgbouncer-bench",
            requests=self.config.pooling_requests,
            rounds=self.config.rounds,
            log=self.say,
        )

    # ------------------------------------------------------------------ more posts
    def _grow_posts(self) -> None:
        target = self.config.grow_posts_to
        assert target is not None
        output = self.lab.python(
            ["-m", "bench.load.fixtures", "grow-posts", "--to", str(target)], 1800
        )
        self.results["grown"] = json.loads(output.strip().splitlines()[-1])
        assert self.lab.stack.servers is not None
        self.lab.stack.servers.postgres.wait_for_replay(timeout=900)
        grown_dir = self.lab.state_dir / "requests-grown"
        fixtures = self._prepare(grown_dir)
        self.results["grown"]["volumes"] = fixtures["volumes"]
        self.results["grown"]["deep_page"] = fixtures["deep_page"]
        original, self.requests_dir = self.requests_dir, grown_dir
        try:
            self._compare(GROWN_COMPARISON)
        finally:
            self.requests_dir = original

    # ------------------------------------------------------------------ profile
    def _profile(self) -> None:
        """py-spy the cached featured-posts path on one backend, under load."""
        from bench.load import profile

        backend = self.lab.stack.backends[0]
        seconds = max(self.config.duration_s, PROFILE_SECONDS)
        self.results["profile"] = profile.record(
            backend.pid,
            out=self.config.out_dir / "profile-featured.txt",
            seconds=seconds,
            load=lambda: self._wrk(
                self.lab.endpoints["backend1"], "featured", "requests.lua",
                self.config.compare_connections, seconds + 1,
            ),
        )  # fmt: skip


# ---------------------------------------------------------------------------- helpers


def _static_file_like(static_root: Path, size: int) -> str:
    """The collected static file (the manifest's hashed name) closest in size to ``size``
    bytes, the featured-posts answer's body: against it, a micro-cache hit differs from the
    static-file ceiling by the cache's own work, not by the bytes it sends."""
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    paths: dict[str, str] = manifest["paths"]
    return min(paths.values(), key=lambda name: abs((static_root / name).stat().st_size - size))


def _mean_metric(runs: list[dict[str, Any]], metric: str) -> float:
    if metric == "requests_per_s":  # answered with a 2xx: errors are not throughput
        return statistics.fmean(run["ok_per_s"] for run in runs)
    return statistics.fmean(run["latency_ms"][metric] for run in runs)


def _side_summary(comparison: dict[str, Any], side: str) -> dict[str, Any]:
    runs = comparison[side]["runs"]
    return {
        "label": comparison[side]["label"],
        "connections": comparison["connections"],
        "requests_per_s": statistics.fmean(run["ok_per_s"] for run in runs),
        "p50_ms": statistics.fmean(run["latency_ms"]["p50"] for run in runs),
        "p99_ms": statistics.fmean(run["latency_ms"]["p99"] for run in runs),
        "errors": sum(run["errors"] + run["non_2xx"] for run in runs),
    }
