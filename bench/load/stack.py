"""The benchmark's servers: the local production stack, its variants (one switch changed, and
the minimal app), the endpoints a load goes to, nginx's configuration between runs, and the
wait for the stack to go idle between them."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from bench.load.loadgen import tree_cpu_seconds
from deploy.nginx.render import FAIL_TIMEOUT
from devstack.gunicorn import PROJECT_ROOT, GunicornServer
from devstack.processes import make_temp_base_dir
from devstack.topology import ProductionStack

LOAD_GENERATOR_ADDRESS = "127.0.0.1"
# Between runs: wait (at most this long) until the stack uses under this share of one core.
SETTLE_MAX_SECONDS = 30.0
# ... after the Celery queue has drained (at most this long): a booking run leaves ~2,000
# email tasks queued, whose worker took 1-3 ms of CPU per request from the runs after it
# (2026-12-05), the booking floor's among them.
DRAIN_MAX_SECONDS = 180.0
SETTLE_WINDOW_SECONDS = 0.1
SETTLE_IDLE_SHARE = 0.3
# Throttling stays on (its cost is measured) with limits no run can reach: the load comes
# from one address and a few thousand accounts, far past any real client's rate.
UNREACHABLE_RATE = "1000000000/minute"


@dataclasses.dataclass
class Endpoint:
    """Where a load goes: a URL and the backends whose metrics and CPU it moves."""

    name: str
    url: str
    backends: list[GunicornServer]
    through_nginx: bool = False
    # Whose CPU a run costs, when not the backends (the minimal app has no /metrics).
    cpu_servers: list[GunicornServer] | None = None


class BenchStack:
    """The servers one benchmark run measures, and the knobs turned between its runs."""

    def __init__(self, log: Callable[[str], None], *, workers: int, threads: int) -> None:
        self.say = log
        self.state_dir = make_temp_base_dir("myhibachi-bench-")
        os.chmod(self.state_dir, 0o755)  # noqa: S103 - PostgreSQL and nginx's workers read it
        self.stack = ProductionStack(
            state_dir=self.state_dir / "stack",
            backend_ports=[None, None, None],
            nginx_port=None,
            demo_data=False,
            workers=workers,
            threads=threads,
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

    def start(self) -> None:
        self.stack.start(log=lambda message: self.say(f"    stack: {message}"))
        assert self.stack.nginx is not None
        self.endpoints["nginx"] = Endpoint(
            "nginx", self.stack.nginx.url, list(self.stack.backends), through_nginx=True
        )
        self.endpoints["backend1"] = Endpoint(
            "backend1", self.stack.backends[0].url, [self.stack.backends[0]]
        )

    def spawn_variants(self) -> None:
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

    def variants_ready(self) -> None:
        for name, server in self.variants.items():
            server.wait_ready(timeout=90)
            # The minimal app has no /metrics: its runs report no application counters.
            backends = [server] if name != "minimal" else []
            self.endpoints[name] = Endpoint(name, server.url, backends, cpu_servers=[server])

    def _manage_env(self) -> dict[str, str]:
        # Operators' commands write then read: the primary, like the stack's own manage.py.
        return {**os.environ, **self.stack.app_env(), "REPLICA_READS_ENABLED": "false"}

    def python(self, args: list[str], timeout: float) -> str:
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

    def configure_nginx(self, state: tuple[bool, str]) -> None:
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

    def cpu_groups(self, endpoint: Endpoint) -> dict[str, list[int | None]]:
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
        self._drain_task_queue(began + DRAIN_MAX_SECONDS)
        deadline = time.monotonic() + SETTLE_MAX_SECONDS
        pids = [pid for group in self.cpu_groups(endpoint).values() for pid in group]
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
                answers = [http_get(f"{endpoint.url}/healthz")["status"] for _ in endpoint.backends]
                if all(status == 200 for status in answers):
                    break
                time.sleep(0.5)
        return time.monotonic() - began

    def _drain_task_queue(self, deadline: float) -> None:
        """Wait until the broker holds no task the worker has yet to take (bounded)."""
        if self.stack.broker is None:
            return
        import redis

        from config.settings import base

        broker = redis.Redis.from_url(self.stack.broker.url)
        try:
            while time.monotonic() < deadline:
                if not broker.llen(base.CELERY_TASK_DEFAULT_QUEUE):
                    return
                time.sleep(0.5)
        finally:
            broker.close()

    def stop(self) -> None:
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


def http_get(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return {"status": response.status, "headers": _lower(response.headers)}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "headers": _lower(error.headers)}


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}
