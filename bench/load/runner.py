"""One benchmark run: start the stack, seed and warm it, measure ceilings, scenarios and
comparisons with wrk, check the targets, write the report.

Everything runs on this machine (loopback only) and every load is bounded in time. The
stack is the local production topology (devstack/topology.py) with, next to its
three backends, a few more started with one switch changed (cache off, throttling off, cache
off and primary only) and the minimal Django app (bench/minimal), all under
deploy/gunicorn.conf.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load import appmetrics, ceilings, pooling, report, targets
from bench.load.config import BenchConfig
from bench.load.loadgen import Measurement, run_wrk, tree_cpu_seconds
from bench.load.machine import machine_facts
from deploy.nginx.render import FAIL_TIMEOUT
from devstack.gunicorn import PROJECT_ROOT, GunicornServer
from devstack.processes import make_temp_base_dir
from devstack.topology import ProductionStack

LOAD_GENERATOR_ADDRESS = "127.0.0.1"
# Between runs: wait (at most this long) until the stack uses under this share of one core.
SETTLE_MAX_SECONDS = 30.0
SETTLE_WINDOW_SECONDS = 0.1
SETTLE_IDLE_SHARE = 0.3
# Samples enough for a stable profile even in the smoke run.
PROFILE_SECONDS = 10
# Throttling stays on (its cost is measured) with limits no run can reach: the load comes
# from one address and a few thousand accounts, far past any real client's rate.
UNREACHABLE_RATE = "1000000000/minute"


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


@dataclasses.dataclass
class Endpoint:
    """Where a load goes: a URL and the backends whose metrics and CPU it moves."""

    name: str
    url: str
    backends: list[GunicornServer]
    through_nginx: bool = False
    # Whose CPU a run costs, when not the backends (the minimal app has no /metrics).
    cpu_servers: list[GunicornServer] | None = None


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


class Bench:
    def __init__(self, config: BenchConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.say = log
        self.started = time.monotonic()
        self.state_dir = make_temp_base_dir("myhibachi-bench-")
        os.chmod(self.state_dir, 0o755)  # noqa: S103 - PostgreSQL and nginx's workers read it
        self.requests_dir = self.state_dir / "requests"
        self.stack = ProductionStack(
            state_dir=self.state_dir / "stack",
            backend_ports=[None, None, None],
            nginx_port=None,
            demo_data=False,
            micro_cache=True,
            upstream_header=False,
            limit_exempt=[LOAD_GENERATOR_ADDRESS],
            env=_bench_env(),
            worker_metrics_port=None,  # a free port: runs next to any other stack
        )
        self.variants: dict[str, GunicornServer] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.nginx_state: tuple[bool, str] = (True, "all")
        self.nginx_saw_errors = False
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
            self._step("stack", self._start_stack)
            # The extra backends start while the data is loaded: they need none to boot.
            self._step("variants", self._spawn_variants)
            self._step("seed", self._seed)
            self._step("fixtures", lambda: self._prepare(self.requests_dir))
            self._step("variants_ready", self._variants_ready)
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
            self._step("stop", self._stop)
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

    def _stop(self) -> None:
        for server in self.variants.values():
            server.terminate()  # all at once: each takes a moment to finish
        for server in self.variants.values():
            server.stop()
        self.stack.stop()
        # The databases' files (WAL included) take seconds to delete on a busy disk: the
        # report does not wait for it.
        subprocess.Popen(  # noqa: S603 - rm of our own temporary directory
            ["rm", "-rf", "--", str(self.state_dir)],  # noqa: S607
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    # ------------------------------------------------------------------ set-up
    def _start_stack(self) -> None:
        self.stack.start(log=lambda message: self.say(f"    stack: {message}"))
        assert self.stack.nginx is not None
        self.endpoints["nginx"] = Endpoint(
            "nginx", self.stack.nginx.url, list(self.stack.backends), through_nginx=True
        )
        self.endpoints["backend1"] = Endpoint(
            "backend1", self.stack.backends[0].url, [self.stack.backends[0]]
        )

    def _manage_env(self) -> dict[str, str]:
        # Operators' commands write then read: the primary, like the stack's own manage.py.
        return {**os.environ, **self.stack.app_env(), "REPLICA_READS_ENABLED": "false"}

    def _python(self, args: list[str], timeout: float) -> str:
        result = subprocess.run(  # noqa: S603 - our interpreter, our modules
            [sys.executable, *args],
            cwd=PROJECT_ROOT,
            env=self._manage_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def _seed(self) -> None:
        args = ["manage.py", "seed_demo", "--scale", str(self.config.scale)]
        if self.config.bookings is not None:
            args += ["--bookings", str(self.config.bookings)]
        self.say("    " + self._python(args, timeout=3600).strip().splitlines()[0])
        assert self.stack.servers is not None
        postgres = self.stack.servers.postgres
        postgres.primary.query("VACUUM ANALYZE", dbname=postgres.database)
        postgres.wait_for_replay(timeout=600)

    def _prepare(self, directory: Path) -> dict[str, Any]:
        args = ["-m", "bench.load.fixtures", "prepare", str(directory)]
        output = self._python([*args, "--customers", str(self.config.token_customers)], 600)
        fixtures = json.loads(output.strip().splitlines()[-1])
        featured = _get(f"{self.endpoints['backend1'].url}/api/v1/blog/posts/featured/")
        answer_bytes = int(featured["headers"].get("content-length", "0"))
        static = _static_file_like(self.stack.static_root, answer_bytes)
        (directory / "static.txt").write_text(f"GET\t/static/{static}\t\t\n")
        self.results.setdefault("fixtures", fixtures)
        self.results["fixtures"]["static_file"] = static
        self.results["fixtures"]["static_file_bytes"] = (
            (self.stack.static_root / static).stat().st_size
        )
        self.results["fixtures"]["featured_answer_bytes"] = answer_bytes
        assert self.stack.servers is not None
        self.stack.servers.postgres.wait_for_replay(timeout=120)
        return fixtures

    def _spawn_variants(self) -> None:
        """The stack's backends with one switch changed, and the framework floor."""
        variants: dict[str, tuple[dict[str, str], str]] = {
            "nocache": ({"CACHE_RESULTS_ENABLED": "false"}, "config.wsgi:application"),
            "nothrottle": ({"THROTTLE_ENABLED": "false"}, "config.wsgi:application"),
            "nocache_primary": (
                {"CACHE_RESULTS_ENABLED": "false", "REPLICA_READS_ENABLED": "false"},
                "config.wsgi:application",
            ),
            "minimal": ({}, "bench.minimal.wsgi:application"),
        }
        for name, (env, app) in variants.items():
            server = self.stack.backend_server(f"bench-{name}", env=env, app=app)
            server.spawn()
            self.variants[name] = server

    def _variants_ready(self) -> None:
        for name, server in self.variants.items():
            server.wait_ready(timeout=90)
            # The minimal app has no /metrics: its runs report no application counters.
            backends = [server] if name != "minimal" else []
            self.endpoints[name] = Endpoint(name, server.url, backends, cpu_servers=[server])

    def _warm(self) -> None:
        self._python(["manage.py", "warm_cache"], timeout=600)
        # A pass of the mixed reads through every app endpoint fills the per-process tiers
        # and opens the database and Redis connections of every worker.
        seconds = 2 * self.config.warmup_s  # none in the smoke run
        for name in ("nginx", "backend1", "nocache", "nothrottle", "nocache_primary"):
            if seconds:
                self._wrk(self.endpoints[name], "mixed_reads", "requests.lua", 16, seconds)

    def _probe_micro_cache(self) -> None:
        """Does the micro-cache honour the app's Cache-Control, and never keep a personal
        answer? Asked of the real nginx with the micro-cache on."""
        self._configure_nginx((True, "all"))
        base = self.endpoints["nginx"].url
        token = (self.requests_dir / "my_bookings.txt").read_text().split("\t")[2]
        public = [_get(f"{base}/api/v1/blog/posts/featured/?limit=3") for _ in range(3)]
        personal = [
            _get(f"{base}/api/v1/bookings/", {"Authorization": f"Token {token}"}) for _ in range(3)
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
            "BENCH_WRITE_SHARE": "0.1",
        }
        return run_wrk(
            endpoint.url,
            script=script,
            env=env,
            connections=connections,
            duration_s=seconds,
            threads=self.config.wrk_threads,
            cpu_groups=self._cpu_groups(endpoint),
        )

    def _cpu_groups(self, endpoint: Endpoint) -> dict[str, list[int | None]]:
        servers = endpoint.cpu_servers if endpoint.cpu_servers is not None else endpoint.backends
        assert self.stack.servers is not None and self.stack.nginx is not None
        groups: dict[str, list[int | None]] = {
            "backends": [server.pid for server in servers],
            "postgres": [server.pid for server in self.stack.servers.postgres.servers()],
            "redis": [self.stack.servers.redis.pid if self.stack.servers.redis else None],
        }
        if endpoint.through_nginx:
            groups["nginx"] = [self.stack.nginx.pid]
        # The background work the requests enqueue (booking notifications): broker, Celery.
        stack = self.stack
        groups["background"] = [
            stack.broker.pid if stack.broker else None,
            stack.beat.pid if stack.beat else None,
            *(worker.pid for worker in stack.celery_workers),
        ]
        return groups

    def settle(self, endpoint: Endpoint) -> float:
        """Wait until the last run's backlog has drained: the stack's processes idle (a run that
        overloaded the backends leaves requests queued after wrk has gone) and, through nginx,
        every backend taken back (nginx skips one for fail_timeout after max_fails errors).
        Bounded; returns the seconds waited."""
        began = time.monotonic()
        deadline = began + SETTLE_MAX_SECONDS
        pids = [pid for group in self._cpu_groups(endpoint).values() for pid in group]
        pids += [server.pid for server in [*self.stack.backends, *self.variants.values()]]
        while time.monotonic() < deadline:
            before = sum(tree_cpu_seconds(pid) for pid in set(pids))
            time.sleep(SETTLE_WINDOW_SECONDS)
            used = sum(tree_cpu_seconds(pid) for pid in set(pids)) - before
            if used < SETTLE_IDLE_SHARE * SETTLE_WINDOW_SECONDS:
                break
        if endpoint.through_nginx and self.nginx_saw_errors:
            # A backend nginx counted as failed stays out for fail_timeout: wait it out.
            time.sleep(_seconds(FAIL_TIMEOUT) + 0.5)
            self.nginx_saw_errors = False
        if endpoint.through_nginx:
            while time.monotonic() < deadline:
                answers = [_get(f"{endpoint.url}/healthz")["status"] for _ in endpoint.backends]
                if all(status == 200 for status in answers):
                    break
                time.sleep(0.5)
        return time.monotonic() - began

    def measure(
        self, endpoint: Endpoint, requests: str, connections: int, *, script: str = "requests.lua"
    ) -> dict[str, Any]:
        """Warm up, then one measured wrk run with the backends' counters around it."""
        settled = self.settle(endpoint)
        if self.config.warmup_s:
            self._wrk(endpoint, requests, script, connections, self.config.warmup_s)
        urls = [backend.url for backend in endpoint.backends]
        before = appmetrics.scrape(urls)
        measurement = self._wrk(endpoint, requests, script, connections, self.config.duration_s)
        counters = appmetrics.scrape(urls) - before
        if endpoint.through_nginx and any(s.startswith("5") for s in measurement.statuses):
            self.nginx_saw_errors = True
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
            sql_per_request=(
                counters.queries / measurement.requests if urls and measurement.requests else None
            ),
            cache_hit_rate=counters.cache_hit_rate if urls else None,
            stack_cpu_ms_per_request=(
                1000 * stack_cpu / measurement.requests if measurement.requests else None
            ),
        )
        return result

    def _scenarios(self) -> None:
        """Every scenario through nginx (micro-cache off: the app answers every request) to
        the three backends, at every concurrency."""
        self._configure_nginx((False, "all"))
        nginx = self.endpoints["nginx"]
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
                    self._configure_nginx(side.nginx)
                runs[key].append(
                    self.measure(self.endpoints[side.endpoint], side.requests, connections)
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

    def _configure_nginx(self, state: tuple[bool, str]) -> None:
        if state == self.nginx_state:
            return
        micro_cache, backends = state
        nginx = self.stack.nginx
        assert nginx is not None
        chosen = self.stack.backends if backends == "all" else self.stack.backends[:1]
        site = dataclasses.replace(
            self.stack.nginx_site(),
            micro_cache=micro_cache,
            backends=[f"127.0.0.1:{backend.port}" for backend in chosen],
        )
        nginx.reload(site)
        self.endpoints["nginx"].backends = list(chosen)
        self.nginx_state = state

    # ------------------------------------------------------------------ ceilings of the stores
    def _store_ceilings(self) -> None:
        assert self.stack.servers is not None and self.stack.servers.redis is not None
        redis_port = self.stack.servers.redis.port
        assert redis_port is not None
        self.results["ceilings"]["redis_get"] = ceilings.redis_get(
            port=redis_port, requests=self.config.redis_requests
        )
        postgres = self.stack.servers.postgres
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
            base_dir=self.state_dir / "pgbouncer-bench",
            requests=self.config.pooling_requests,
            rounds=self.config.rounds,
            log=self.say,
        )

    # ------------------------------------------------------------------ more posts
    def _grow_posts(self) -> None:
        target = self.config.grow_posts_to
        assert target is not None
        output = self._python(
            ["-m", "bench.load.fixtures", "grow-posts", "--to", str(target)], 1800
        )
        self.results["grown"] = json.loads(output.strip().splitlines()[-1])
        assert self.stack.servers is not None
        self.stack.servers.postgres.wait_for_replay(timeout=900)
        grown_dir = self.state_dir / "requests-grown"
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

        backend = self.stack.backends[0]
        seconds = max(self.config.duration_s, PROFILE_SECONDS)
        self.results["profile"] = profile.record(
            backend.pid,
            out=self.config.out_dir / "profile-featured.txt",
            seconds=seconds,
            load=lambda: self._wrk(
                self.endpoints["backend1"], "featured", "requests.lua",
                self.config.compare_connections, seconds + 1,
            ),
        )  # fmt: skip


# ---------------------------------------------------------------------------- helpers
def _bench_env() -> dict[str, str]:
    from config.settings import base

    return {f"THROTTLE_RATES_{scope.upper()}": UNREACHABLE_RATE for scope in base.THROTTLE_SCOPES}


def _seconds(nginx_time: str) -> float:
    """nginx's "10s" / "1m" / "500ms" in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60}
    for unit in ("ms", "s", "m"):
        if nginx_time.endswith(unit):
            return float(nginx_time.removesuffix(unit)) * units[unit]
    return float(nginx_time)


def _static_file_like(static_root: Path, size: int) -> str:
    """The collected static file (the manifest's hashed name) closest in size to ``size``
    bytes, the featured-posts answer's body: against it, a micro-cache hit differs from the
    static-file ceiling by the cache's own work, not by the bytes it sends."""
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    paths: dict[str, str] = manifest["paths"]
    return min(paths.values(), key=lambda name: abs((static_root / name).stat().st_size - size))


def _get(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return {"status": response.status, "headers": _lower(response.headers)}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "headers": _lower(error.headers)}


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


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
