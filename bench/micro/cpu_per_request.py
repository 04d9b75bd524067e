"""CPU per request of the hot read paths, in-process: ``python -m bench.micro.cpu_per_request``.

The wrk benchmark's throughput moves by up to 70 % on a shared host; CPU time per request
barely moves, and it is what the app's fixed cost is made of. This harness measures only that:
each scenario runs in its own process with the production settings (or the minimal floor's),
calls the WSGI handler directly ``--requests`` times the way gunicorn does (a fresh environ,
the body iterated, ``close()``), and reports ``time.process_time()`` per request, all threads
of the process included. Redis is a real ``redis-server`` (``devstack``); the
database a throwaway PostgreSQL (``--sqlite``: a temporary SQLite file, quicker to start).
The access log goes to a file, as gunicorn's stderr does. Throttling is on with limits no run
reaches, as in ``make bench``. ``--threads 4`` serves requests from four threads at once, like
one gthread worker under load (lock contention included).

Scenarios (``--scenario``, repeatable; default all):

- ``featured``: cached featured posts, anonymous (served from the result cache);
- ``featured_nothrottle``: the same with ``THROTTLE_ENABLED=false``;
- ``detail``: post detail, cached (one slug);
- ``list_first``: the post list's first page, cached;
- ``list_page2``: the post list's second page (a cursor page: not cached, the same two
  queries as any deeper page); ``list_first_uncached``: the first page with
  ``CACHE_RESULTS_ENABLED=false`` (what ``make bench`` compares deep pages with);
- ``refused_flood``: ``featured`` from one anonymous client over its limit (``20/hour``, spent
  in the warm-up, each run from an empty Redis): every measured request a ``429``, refused from
  the deny cache and answered by the replay; ``refused_flood_nocache``: the same with
  ``THROTTLE_DENY_CACHE=false`` (Redis refuses each one);
- ``detail_uncached``: post detail with ``CACHE_RESULTS_ENABLED=false`` (1 query);
- ``minimal_json`` / ``minimal_db``: ``bench/minimal``'s constant JSON and one-query views.
- The booking path (a customer with a token, a package, a zone and a slot every day with room
  for every request; the broker is the Redis, as in production): ``booking_create`` (``POST
  /bookings/``, each request on one of 60 dates in turn) against ``minimal_booking`` (lock,
  count, insert, one outbox row in one transaction); ``my_bookings`` (the first page of 20)
  and ``booking_detail`` against ``minimal_bookings`` / ``minimal_booking_detail`` (one query
  each); ``availability_30`` (30 days, anonymous, from the per-day cache),
  ``availability_30_uncached`` (``CACHE_RESULTS_ENABLED=false``: its one query every time)
  against ``minimal_availability_30`` (one query).

``--cprofile N`` prints each scenario's N most expensive functions (self time, or with
``--cprofile-sort cumulative`` including what they call), timed by the wall clock, or with
``--cprofile-clock cpu`` by the process's CPU time: waits for the database or Redis then count
nothing, the kernel's work for a ``send`` or ``recv`` counts where it is done (slower to
profile: a system call per event); ``--py-spy PREFIX`` runs each
scenario under ``py-spy record`` and writes its collapsed stacks to
``PREFIX-<scenario>-t<threads>.txt``. ``--repeat N`` keeps the cheapest of N runs (other
processes on a shared host only ever add time).

Measured on 2026-11-26 (2 vCPU Xeon shared with other suites), CPU ms per request, 1 thread,
cheapest of 2 runs of 2,000; each row adds one change to the row above (README, "Benchmark"):

====================================================  ========  ==========  ======  ========
change                                                featured  featured,   detail  detail,
                                                      (cached)  no throttle         uncached
====================================================  ========  ==========  ======  ========
before                                                2.54      2.25        1.63    3.51
access log written in batches (4 threads: ~-0.3 ms)   2.51      2.24        1.73    3.49
rendered bodies kept by ETag, lazy unpickling         1.12      0.72        0.97    3.34
throttle plan cached, Lua script in one pass          1.08      0.74        0.96    3.44
prebuilt serializer fields, query memo, pool gauge    0.94      0.63        0.98    3.36
before -> after, 4 threads                            3.33->1.18 2.79->0.67 2.13->1.08 4.45->3.65
public answers replayed (core/cache/replay.py)        0.54      0.25        0.53    3.54
tag names from the join table, no Tag models          0.53      0.28        0.49    3.14
====================================================  ========  ==========  ======  ========

minimal JSON 0.08, minimal one-query 0.71-0.88 throughout. Differences under ~0.1 ms are noise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FEATURED = "/api/v1/blog/posts/featured/"
# The same limits as ``make bench``: throttling runs, but never refuses.
UNREACHABLE_RATE = "1000000000/minute"


# ---------------------------------------------------------------------------- scenarios
SCENARIOS: dict[str, dict[str, Any]] = {
    "featured": {"app": "config.wsgi", "env": {}, "path": FEATURED},
    "featured_nothrottle": {
        "app": "config.wsgi",
        "env": {"THROTTLE_ENABLED": "false"},
        "path": FEATURED,
    },
    "detail": {"app": "config.wsgi", "env": {}, "path": "/api/v1/blog/posts/{slug}/"},
    "list_first": {"app": "config.wsgi", "env": {}, "path": "/api/v1/blog/posts/"},
    "list_first_uncached": {
        "app": "config.wsgi",
        "env": {"CACHE_RESULTS_ENABLED": "false"},
        "path": "/api/v1/blog/posts/",
    },
    "list_page2": {
        "app": "config.wsgi",
        "env": {},
        "path": "/api/v1/blog/posts/?{second_page}",
    },
    "detail_uncached": {
        "app": "config.wsgi",
        "env": {"CACHE_RESULTS_ENABLED": "false"},
        "path": "/api/v1/blog/posts/{slug}/",
    },
    # One client over its limit hammering the cached endpoint: every request answered 429.
    "refused_flood": {
        "app": "config.wsgi",
        "env": {"THROTTLE_RATES_ANON": "20/hour"},
        "path": FEATURED,
        "status": "429",
    },
    "refused_flood_nocache": {
        "app": "config.wsgi",
        "env": {"THROTTLE_RATES_ANON": "20/hour", "THROTTLE_DENY_CACHE": "false"},
        "path": FEATURED,
        "status": "429",
    },
    "minimal_json": {"app": "bench.minimal.wsgi", "env": {}, "path": "/json"},
    "minimal_db": {"app": "bench.minimal.wsgi", "env": {}, "path": "/db/{slug}"},
    # The booking path: the customer is the token's (the app) or the id in its place (floors).
    "booking_create": {
        "app": "config.wsgi",
        "env": {},
        "path": "/api/v1/bookings/",
        "method": "POST",
        "body": "booking",
        "auth": True,
    },
    "my_bookings": {"app": "config.wsgi", "env": {}, "path": "/api/v1/bookings/", "auth": True},
    "booking_detail": {
        "app": "config.wsgi",
        "env": {},
        "path": "/api/v1/bookings/{booking_id}/",
        "auth": True,
    },
    "availability_30": {
        "app": "config.wsgi",
        "env": {},
        "path": "/api/v1/bookings/availability/?start={start}&end={end}",
    },
    "availability_30_uncached": {
        "app": "config.wsgi",
        "env": {"CACHE_RESULTS_ENABLED": "false"},
        "path": "/api/v1/bookings/availability/?start={start}&end={end}",
    },
    "minimal_booking": {
        "app": "bench.minimal.wsgi",
        "env": {},
        "path": "/bookings/",
        "method": "POST",
        "body": "booking",
        "auth": True,
    },
    "minimal_bookings": {
        "app": "bench.minimal.wsgi",
        "env": {},
        "path": "/bookings/mine/",
        "auth": True,
    },
    "minimal_booking_detail": {
        "app": "bench.minimal.wsgi",
        "env": {},
        "path": "/bookings/{booking_id}/",
        "auth": True,
    },
    "minimal_availability_30": {
        "app": "bench.minimal.wsgi",
        "env": {},
        "path": "/availability/?start={start}&end={end}",
    },
}
BOOKING_DATES = 60  # booking_create cycles through this many dates (a slot each)
FIRST_BOOKING_DAYS = 5  # days ahead of the first: past BOOKING_MIN_NOTICE_HOURS (72 h)


def app_env(database_url: str, redis_url: str, work_dir: Path) -> dict[str, str]:
    """The production backend's environment (devstack/topology.py) for one process."""
    from config.settings import base

    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "cpu-per-request-not-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "DEPLOY_ENVIRONMENT": "cpu-bench",
        "STATIC_ROOT": str(work_dir / "static"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REPLICA_READS_ENABLED": "false",
    }
    env.update({f"THROTTLE_RATES_{s.upper()}": UNREACHABLE_RATE for s in base.THROTTLE_SCOPES})
    return env


# ---------------------------------------------------------------------------- one scenario
def wsgi_environ(path: str) -> dict[str, Any]:
    """What gunicorn hands the application for ``GET path`` from loopback, without a body."""
    import io

    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "wrk",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def serve(
    application: Callable,
    path: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> str:
    """One request as a WSGI server serves it; returns the status line."""
    import io

    status_line: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> Callable:
        status_line.append(status)
        return lambda data: None

    path, _, query = path.partition("?")
    environ = wsgi_environ(path)
    environ["QUERY_STRING"] = query
    environ["REQUEST_METHOD"] = method
    if body:
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(headers or {})
    response = application(environ, start_response)
    try:
        for _chunk in response:
            pass
    finally:
        if hasattr(response, "close"):
            response.close()
    return status_line[0]


def booking_body(index: int) -> bytes:
    """The ``index``-th booking request's body: the bench slot on one of BOOKING_DATES dates."""
    import datetime

    day = datetime.date.fromisoformat(os.environ["CPU_BENCH_FIRST_DATE"])
    day += datetime.timedelta(days=index % BOOKING_DATES)
    order = {
        "package": int(os.environ["CPU_BENCH_PACKAGE"]),
        "event_date": day.isoformat(),
        "start_time": "11:30",
        "adults": 10,
        "children": 0,
        "postcode": "99901",
        "address": "1 Bench Street",
        "notes": "",
    }
    return json.dumps(order).encode()


def seed_bookings() -> None:
    """Run by ``manage.py shell`` once: the booking scenarios' customer, token, catalogue and
    20 bookings; prints what the children need as JSON."""
    import datetime

    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from bookings import services
    from bookings.models import Package, ServiceZone, TimeSlot

    package = Package.objects.create(
        name="Bench", price_per_adult=5000, price_per_child=2500, min_guests=1, max_guests=60
    )
    ServiceZone.objects.create(name="Bench zone", postcode_prefixes=["999"], travel_fee=0)
    for weekday in range(7):  # room for every request of every run
        TimeSlot.objects.update_or_create(
            weekday=weekday, start_time=datetime.time(11, 30), defaults={"capacity": 32767}
        )
    customer = User.objects.create_user(email="bench@example.com", password=None)
    token = Token.objects.create(user=customer)
    today = timezone.localdate()
    first = today + datetime.timedelta(days=FIRST_BOOKING_DAYS)
    booking = None
    for n in range(20):
        booking = services.booking_create(
            customer=customer,
            package_id=package.pk,
            event_date=first + datetime.timedelta(days=n),
            start_time=datetime.time(11, 30),
            adults=10,
            children=0,
            postcode="99901",
            address="1 Bench Street",
        )
    print(
        json.dumps(
            {
                "CPU_BENCH_TOKEN": token.key,
                "CPU_BENCH_CUSTOMER": str(customer.pk),
                "CPU_BENCH_PACKAGE": str(package.pk),
                "CPU_BENCH_BOOKING_ID": str(booking.pk if booking else 0),
                "CPU_BENCH_FIRST_DATE": first.isoformat(),
                "CPU_BENCH_START": (today + datetime.timedelta(days=1)).isoformat(),
                "CPU_BENCH_END": (today + datetime.timedelta(days=30)).isoformat(),
            }
        )
    )


def run_child(scenario: str, requests: int, warmup: int, threads: int, cprofile: int) -> None:
    """Measure one scenario in this process; print one JSON line."""
    spec = SCENARIOS[scenario]
    one = _one_request(spec)
    expected = spec.get("status", "201" if spec.get("method", "GET") == "POST" else "200")
    for _ in range(warmup):
        one()
    failures: list[str] = []

    def work(count: int) -> None:
        for _ in range(count):
            status = one()
            if not status.startswith(expected):
                failures.append(status)

    with _cprofiled(cprofile):
        cpu, wall = time.process_time(), time.perf_counter()
        _in_threads(work, requests, threads)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    served = requests // threads * threads
    result = {
        "scenario": scenario,
        "threads": threads,
        "requests": served,
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
        "cpu_ms": 1000 * cpu / served,
        "wall_ms": 1000 * wall / served,
    }
    print("CPU-BENCH " + json.dumps(result), file=sys.__stdout__, flush=True)


def _one_request(spec: dict[str, Any]) -> Callable[[], str]:
    """A function that serves the scenario's request once and returns the status line."""
    import importlib

    application = importlib.import_module(spec["app"]).application
    path = spec["path"]
    if "{" in path:
        path = path.format(
            slug=os.environ["CPU_BENCH_SLUG"],
            second_page=os.environ["CPU_BENCH_SECOND_PAGE"],
            booking_id=os.environ["CPU_BENCH_BOOKING_ID"],
            start=os.environ["CPU_BENCH_START"],
            end=os.environ["CPU_BENCH_END"],
        )
    method = spec.get("method", "GET")
    headers: dict[str, str] = {}
    if spec.get("auth"):
        # The floors take the customer's id where the app takes its token (bench/minimal/urls.py).
        floor = spec["app"] == "bench.minimal.wsgi"
        credential = os.environ["CPU_BENCH_CUSTOMER" if floor else "CPU_BENCH_TOKEN"]
        headers["HTTP_AUTHORIZATION"] = f"Token {credential}"
    counter = iter(range(10**9))  # next() is atomic under the GIL: one index per request

    def one() -> str:
        body = booking_body(next(counter)) if spec.get("body") == "booking" else b""
        return serve(application, path, method=method, body=body, headers=headers)

    return one


def _in_threads(work: Callable[[int], None], requests: int, threads: int) -> None:
    """``requests`` calls of ``work`` shared by ``threads`` threads (1: this one)."""
    if threads == 1:
        work(requests)
        return
    workers = [threading.Thread(target=work, args=(requests // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


@contextlib.contextmanager
def _cprofiled(top: int) -> Iterator[None]:
    """cProfile the block and print its ``top`` functions (0: no profile)."""
    if not top:
        yield
        return
    import cProfile
    import pstats

    clock = os.environ.get("CPU_BENCH_CPROFILE_CLOCK", "wall")
    profiler = cProfile.Profile(time.process_time) if clock == "cpu" else cProfile.Profile()
    profiler.enable()
    yield
    profiler.disable()
    order = os.environ.get("CPU_BENCH_CPROFILE_SORT", "tottime")
    stats = pstats.Stats(profiler, stream=sys.__stdout__).sort_stats(order)
    stats.print_stats(top)


# ---------------------------------------------------------------------------- the parent
class Servers:
    """Redis and the database for every scenario, migrated and seeded once."""

    def __init__(self, *, sqlite: bool) -> None:
        self.work_dir = Path(tempfile.mkdtemp(prefix="myhibachi-cpu-bench-"))
        self.sqlite = sqlite
        self.redis: Any = None
        self.postgres: Any = None

    def __enter__(self) -> Servers:
        from devstack.postgres import PostgresCluster
        from devstack.redis import RedisServer

        self.redis = RedisServer().start()
        if self.sqlite:
            self.database_url = f"sqlite:///{self.work_dir / 'db.sqlite3'}"
        else:
            self.postgres = PostgresCluster(replicas=0).start()
            self.database_url = self.postgres.url("default")
        self.env = app_env(self.database_url, self.redis.url, self.work_dir)
        self._manage(["migrate", "--noinput", "-v", "0"])
        self._manage(["seed_demo", "--scale", "1", "--no-staff"])
        slug = self._manage(
            [
                "shell",
                "-c",
                "from blog.models import Post;"
                "print(Post.objects.filter(status='published').order_by('id')[0].slug)",
            ]
        )
        self.env["CPU_BENCH_SLUG"] = slug.strip().splitlines()[-1]
        # The second page's cursor: the same queries as any deeper page (no OFFSET).
        second_page = self._manage(
            [
                "shell",
                "-c",
                "from django.test import Client;"
                "print(Client(HTTP_HOST='127.0.0.1').get('/api/v1/blog/posts/')"
                ".json()['next'].split('?', 1)[1])",
            ]
        )
        self.env["CPU_BENCH_SECOND_PAGE"] = second_page.strip().splitlines()[-1]
        seeded = self._manage(
            [
                "shell",
                "-c",
                "from bench.micro.cpu_per_request import seed_bookings; seed_bookings()",
            ]
        )
        self.env.update(json.loads(seeded.strip().splitlines()[-1]))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.postgres is not None:
            self.postgres.stop()
        if self.redis is not None:
            self.redis.stop()
            self.redis.cleanup()

    def _manage(self, args: list[str]) -> str:
        completed = subprocess.run(  # noqa: S603 - our interpreter and manage.py
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{completed.stderr[-2000:]}")
        return completed.stdout

    def run(
        self,
        scenario: str,
        *,
        requests: int,
        warmup: int,
        threads: int,
        cprofile: int,
        py_spy: Path | None = None,
    ) -> dict[str, Any]:
        if SCENARIOS[scenario].get("status"):  # the client's budget: spent in this run's warm-up
            import redis

            redis.Redis.from_url(self.redis.url).flushdb()
        # A fresh metrics directory and log file per run, as a new gunicorn worker has.
        run_dir = Path(tempfile.mkdtemp(prefix=f"{scenario}-", dir=self.work_dir))
        env = self._child_env(scenario, run_dir)
        argv = [
            sys.executable, "-m", "bench.micro.cpu_per_request", "--child", scenario,
            "--requests", str(requests), "--warmup", str(warmup), "--threads", str(threads),
            "--cprofile", str(cprofile),
        ]  # fmt: skip
        if py_spy is not None:
            argv = _under_py_spy(argv, py_spy.parent / f"{py_spy.name}-{scenario}-t{threads}.txt")
        with open(run_dir / "stderr.log", "wb") as log:
            completed = subprocess.run(  # noqa: S603 - our interpreter, this module
                argv, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=log, check=False
            )
        output = completed.stdout.decode()
        lines = [line for line in output.splitlines() if line.startswith("CPU-BENCH ")]
        if completed.returncode != 0 or not lines:
            tail = (run_dir / "stderr.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{scenario} failed ({completed.returncode}):\n{output}\n{tail}")
        if cprofile:
            print(output.replace(lines[-1], ""))
        result = json.loads(lines[-1].removeprefix("CPU-BENCH "))
        log_bytes = (run_dir / "stderr.log").stat().st_size
        result["log_bytes_per_request"] = log_bytes / (result["requests"] + warmup)
        return result

    def _child_env(self, scenario: str, run_dir: Path) -> dict[str, str]:
        env = {
            **os.environ,
            **self.env,
            **SCENARIOS[scenario]["env"],
            "PROMETHEUS_MULTIPROC_DIR": str(run_dir),
        }
        if SCENARIOS[scenario]["app"] == "bench.minimal.wsgi":
            env["DJANGO_SETTINGS_MODULE"] = "bench.minimal.settings"
        return env


def _under_py_spy(argv: list[str], out: Path) -> list[str]:
    """``argv`` run under py-spy: collapsed stacks (flamegraph.pl / speedscope input) in ``out``."""
    binary = str(Path(sys.executable).with_name("py-spy"))
    return [binary, "record", "--rate", "500", "--format", "raw", "-o", str(out), "--", *argv]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    threads_list = args.threads or [1, 4]

    if args.child:
        run_child(args.child, args.requests, args.warmup, threads_list[0], args.cprofile)
        return 0

    os.environ["CPU_BENCH_CPROFILE_SORT"] = args.cprofile_sort  # read by the children
    os.environ["CPU_BENCH_CPROFILE_CLOCK"] = args.cprofile_clock
    sys.path.insert(0, str(PROJECT_ROOT))
    scenarios = args.scenario or list(SCENARIOS)
    rows = []
    with Servers(sqlite=args.sqlite) as servers:
        for scenario in scenarios:
            for threads in threads_list:
                rows.append(_best_of(servers, args, scenario, threads))
    print(json.dumps(rows))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.micro.cpu_per_request", description=__doc__
    )
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--threads", type=int, action="append", help="default: 1 and 4")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (best kept)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N")
    parser.add_argument(
        "--cprofile-sort", default="tottime", choices=("tottime", "cumulative"), help="order"
    )
    parser.add_argument(
        "--cprofile-clock", default="wall", choices=("wall", "cpu"), help="what a profile times"
    )
    parser.add_argument("--py-spy", type=Path, metavar="PREFIX", help="py-spy each run")
    parser.add_argument("--child", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    return parser


def _best_of(
    servers: Servers, args: argparse.Namespace, scenario: str, threads: int
) -> dict[str, Any]:
    """``--repeat`` runs of one scenario; print them and return the cheapest."""
    runs = [
        servers.run(
            scenario,
            requests=args.requests,
            warmup=args.warmup,
            threads=threads,
            cprofile=args.cprofile,
            py_spy=args.py_spy,
        )
        for _ in range(args.repeat)
    ]
    best = min(runs, key=lambda run: run["cpu_ms"])
    every = ", ".join(f"{run['cpu_ms']:.3f}" for run in runs)
    print(
        f"{scenario:22} threads={threads}  CPU {best['cpu_ms']:.3f} ms/request"
        f"  (runs: {every})"
        f"  wall {best['wall_ms']:.3f} ms  unexpected status: {best['failures']}"
        f"  log {best['log_bytes_per_request']:.0f} B/request",
        flush=True,
    )
    return best


if __name__ == "__main__":
    sys.exit(main())
