"""The production topology on one machine: nginx, three gunicorn backends, PostgreSQL primary +
streaming replica, Redis, and the background work (a Celery worker and beat on a Redis broker of
their own) — all on loopback, all under one state directory, no containers. Optionally
(``pgbouncer=True``; the ``up`` command's default) PgBouncer in transaction mode in front of each
PostgreSQL node (docs/pooling.md). Backends get libpq multi-host URLs, so ``promote()`` and
``rejoin()`` fail over without restarting them (docs/failover.md).

In-process (tests)::

    with ProductionStack(state_dir=tmp, backend_ports=[None] * 3, nginx_port=None) as stack:
        stack.nginx.url, stack.backends[0].kill(), stack.backends[0].start(), ...

From a shell (``deploy/local/stack``; ``make stack``, ``make stack-status``, ``make stack-down``)::

    python -m devstack.topology up [--backend-ports 8000,8001,8002] [--nginx-port 8080]
    python -m devstack.topology status
    python -m devstack.topology down

``up`` starts a supervisor process in the background that owns every server (they stop with
it, even when it is killed: parent-death signal), waits until the stack is ready and prints
where everything is. ``down`` stops the supervisor, which stops the servers in order.
``status`` shows each process and asks ``/readyz`` of every backend and of nginx.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from config.redis import celery_sentinel_broker_url, sentinel_url
from core.db.urls import split_urls
from deploy.nginx.render import NginxSite
from devstack.binaries import MissingBinary
from devstack.celery import CeleryBeat, CeleryWorker
from devstack.gunicorn import PROJECT_ROOT, GunicornServer
from devstack.nginx import NginxServer
from devstack.pgbouncer import DEFAULT_POOL_SIZE, PgBouncerServer
from devstack.processes import LOOPBACK, ServerStartError, free_port
from devstack.redis import RedisServer
from devstack.sentinel import SentinelRedis
from devstack.stack import LocalServers

GUNICORN_CONFIG = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"
# gunicorn per backend: one process of 8 threads. Three backends share 2 cores here; with 2
# processes of 4 threads each, one process often took most of the keep-alive connections and
# served them alone, bound by its GIL, while the other idled. 1 x 8 kept the throughput and cut
# p99 2-3x (docs/topology.md, "Processes and threads").
DEFAULT_WORKERS = 1
DEFAULT_THREADS = 8

# The broker's Sentinel master name with --redis-failover (docker-compose.yml watches the same).
BROKER_MASTER_NAME = "myhibachi-broker"
DEFAULT_STATE_DIR = PROJECT_ROOT / ".stack"
DEFAULT_BACKEND_PORTS = (8000, 8001, 8002)
DEFAULT_NGINX_PORT = 8080
STATE_FILE = "stack.json"
ENV_FILE = "stack.env"
LOG_FILE = "stack.log"
# Marks a directory as a stack's: `up` only ever wipes a directory that carries it.
MARKER = ".myhibachi-stack"
# The same memory policy as docker-compose.yml's Redis: a cache that evicts, never refuses.
REDIS_ARGS = ["--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru"]
# The task broker, as docker-compose.yml's redis-broker: keeps what it accepted (append-only
# file in its directory, across restarts of the broker) and never evicts a message.
BROKER_ARGS = [
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--maxmemory-policy",
    "noeviction",
]
# The Celery worker's /metrics (deploy/prometheus/prometheus.yml scrapes it there).
DEFAULT_WORKER_METRICS_PORT = 9808
# Not secrets: collectstatic needs production settings' required variables to be set, not real.
BUILD_ENV = {
    "DJANGO_SECRET_KEY": "collectstatic-only",
    "DJANGO_ALLOWED_HOSTS": "localhost",
    "DATABASE_URL": "sqlite:////nonexistent/collectstatic.sqlite3",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}


class ProductionStack:
    """Every server of the topology, started in dependency order and stopped in reverse.

    A port of ``None`` is a free one chosen at start (tests run stacks next to anything).
    ``env`` is added to the backends' environment (e.g. ``THROTTLE_ENABLED=false``).
    ``limit_exempt``: client addresses nginx's rate limit does not count (a load generator).
    ``redis_failover``: the cache Redis is a master, its replica and three sentinels
    (``SentinelRedis``; docs/redis-failover.md), and the app finds the master through them.
    """

    def __init__(
        self,
        *,
        state_dir: Path,
        backend_ports: Sequence[int | None] = DEFAULT_BACKEND_PORTS,
        nginx_port: int | None = DEFAULT_NGINX_PORT,
        workers: int = DEFAULT_WORKERS,
        threads: int = DEFAULT_THREADS,
        replicas: int = 1,
        demo_data: bool = True,
        micro_cache: bool = True,
        upstream_header: bool = True,
        limit_exempt: Sequence[str] = (),
        env: dict[str, str] | None = None,
        task_workers: int = 1,
        worker_metrics_port: int | None = DEFAULT_WORKER_METRICS_PORT,
        redis_failover: bool = False,
        pgbouncer: bool = False,
        pool_size: int = DEFAULT_POOL_SIZE,
        synchronous: bool = False,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.backend_ports = list(backend_ports)
        self.nginx_port = nginx_port
        self.workers = workers
        self.threads = threads
        self.replicas = replicas
        self.demo_data = demo_data
        self.micro_cache = micro_cache
        self.upstream_header = upstream_header
        self.limit_exempt = tuple(limit_exempt)
        self.extra_env = dict(env or {})
        self.static_root = self.state_dir / "static"
        self.servers: LocalServers | None = None
        self.backends: list[GunicornServer] = []
        self.nginx: NginxServer | None = None
        # Background work (core/background): the broker, Celery workers and the one beat.
        self.task_workers = task_workers
        self.worker_metrics_port = worker_metrics_port
        self.broker: RedisServer | None = None
        # With redis_failover, the broker too is a master + replica behind three sentinels.
        self.broker_sentinel: SentinelRedis | None = None
        self.redis_failover = redis_failover
        self.sentinel: SentinelRedis | None = None
        self.celery_workers: list[CeleryWorker] = []
        self.beat: CeleryBeat | None = None
        # PgBouncer in transaction mode in front of each PostgreSQL node, by the node's name
        # ("primary", "replica_1": the names stay with the servers through a failover).
        self.pgbouncer = pgbouncer
        self.pool_size = pool_size
        self.poolers: dict[str, PgBouncerServer] = {}
        self.synchronous = synchronous
        self._secret_key = secrets.token_urlsafe(50)

    def __enter__(self) -> ProductionStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- lifecycle
    def start(self, log: Callable[[str], None] | None = None) -> ProductionStack:
        """Start everything (``log`` hears each step); on a failure stop what started, raise."""
        say = log or (lambda message: None)
        collect: subprocess.Popen[bytes] | None = None
        try:
            self._prepare_state_dir()
            # collectstatic needs no server: it runs while PostgreSQL and Redis start.
            collect = self._manage(
                ["collectstatic", "--noinput", "-v0"], env=BUILD_ENV, background=True
            )
            say("starting PostgreSQL (primary + streaming replica) and Redis")
            self.servers = LocalServers(
                replicas=self.replicas,
                base_dir=self.state_dir,
                redis_args=REDIS_ARGS,
                redis=not self.redis_failover,
                synchronous=self.synchronous,
            ).start()
            if self.pgbouncer:
                say(f"starting PgBouncer (transaction mode, {self.pool_size} server connections)")
                self._start_poolers()
            if self.redis_failover:
                say("starting Redis master + replica and three sentinels")
                self.sentinel = SentinelRedis(
                    base_dir=self.state_dir / "redis-sentinel", extra_args=REDIS_ARGS
                ).start()
            if self.task_workers and self.redis_failover:
                say("starting the broker's Redis master + replica and three sentinels")
                self.broker_sentinel = SentinelRedis(
                    base_dir=self.state_dir / "broker-sentinel",
                    master_name=BROKER_MASTER_NAME,
                    extra_args=BROKER_ARGS,
                ).start()
            elif self.task_workers:
                self.broker = RedisServer(
                    base_dir=self.state_dir / "broker", extra_args=BROKER_ARGS
                )
                self.broker.start()
            say("migrating the database")
            self._manage(["migrate", "--noinput", "-v0"])
            if self.demo_data:
                say("loading demo data")
                self._manage(["seed_demo"])
            self._finish(collect, "collectstatic")
            say(f"starting {len(self.backend_ports)} gunicorn backends")
            self._start_backends()
            if self.task_workers:
                say(f"starting {self.task_workers} Celery worker(s) and beat")
                self._start_celery()
            say("starting nginx")
            self.nginx = NginxServer(self.nginx_site(), prefix=self.state_dir / "nginx")
            self.nginx.start()
        except BaseException:
            if collect is not None and collect.poll() is None:
                collect.kill()
                collect.wait()
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """nginx first (no new requests), then the backends, then the data stores."""
        if self.nginx is not None:
            self.nginx.stop()
        for backend in self.backends:
            backend.thaw()  # a test may have left one frozen
            backend.terminate()  # all at once: each takes about a second to finish
        for backend in self.backends:
            backend.stop()
        # Beat first (nothing new is enqueued), then the workers: a warm shutdown each, the
        # running tasks finish; then the broker.
        if self.beat is not None:
            self.beat.stop()
        for worker in self.celery_workers:
            worker.stop()
        if self.broker is not None:
            self.broker.stop()
        if self.broker_sentinel is not None:
            self.broker_sentinel.stop()
        if self.sentinel is not None:
            self.sentinel.stop()
        for pooler in self.poolers.values():
            pooler.stop()
        if self.servers is not None:
            self.servers.stop()

    def _start_poolers(self) -> None:
        assert self.servers is not None
        for server in self.servers.postgres.servers():
            self.poolers[server.name] = self._pooler(server.name, server.port).start()

    def _pooler(self, name: str, server_port: int, port: int | None = None) -> PgBouncerServer:
        assert self.servers is not None
        return PgBouncerServer(
            name=name,
            server_port=server_port,
            base_dir=self.state_dir / f"pgbouncer-{name}",
            pool_size=self.pool_size,
            user=self.servers.postgres.user,
            port=port,
        )

    # ---------------------------------------------------------------- failover
    def promote(self, which: int | str = 1) -> None:
        """The operator's failover: fence the primary, promote the standby ``which``; with
        PgBouncer, disable the old node's pooler and refresh the promoted node's
        (``devstack.failover.pooler_command``). The backends follow through their
        multi-host URLs, without a restart."""
        assert self.servers is not None
        self.servers.postgres.promote(which, poolers=self._pooler_ports())

    def rejoin(self, which: int | str = 1) -> None:
        """The old primary (replica ``which`` since ``promote``) rejoins as a standby
        (pg_rewind); its PgBouncer is enabled again."""
        assert self.servers is not None
        self.servers.postgres.rejoin(which, poolers=self._pooler_ports())

    def _pooler_ports(self) -> dict[str, int]:
        return {name: pooler.port for name, pooler in self.poolers.items() if pooler.port}

    def database_env(self, application_name: str) -> dict[str, str]:
        """DATABASE_URL and DATABASE_REPLICA_URLS for a backend or worker: multi-host (every
        node, libpq picks by role), through the poolers when there are, and named."""
        assert self.servers is not None
        ports = {name: pooler.port for name, pooler in self.poolers.items() if pooler.port}
        urls = self.servers.postgres.failover_env(ports)
        env = {
            "DATABASE_URL": _with_application_name(urls["DATABASE_URL"], application_name),
            "DATABASE_REPLICA_URLS": ",".join(
                _with_application_name(url, application_name)
                for url in split_urls(urls["DATABASE_REPLICA_URLS"])
            ),
        }
        if self.poolers:
            env["DATABASE_TRANSACTION_POOLING"] = "true"
        return env

    def _prepare_state_dir(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / MARKER).touch()
        # nginx's workers (nobody, when we are root) read the static files from here.
        os.chmod(self.state_dir, 0o755)  # noqa: S103 - static files and logs, no secrets

    def _start_backends(self) -> None:
        for index, port in enumerate(self.backend_ports, start=1):
            self.backends.append(self.backend_server(f"backend{index}", port=port))
        for backend in self.backends:
            backend.spawn()
        for backend in self.backends:
            backend.wait_ready(timeout=90)

    def backend_server(
        self,
        name: str,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        app: str = "config.wsgi:application",
    ) -> GunicornServer:
        """A backend like the stack's own (not started, not in ``backends``), against the
        stack's databases and Redis, with ``env`` on top: the benchmark starts extra ones with
        one switch changed (``CACHE_RESULTS_ENABLED=false``) or another WSGI ``app``."""
        assert self.servers is not None
        base_dir = self.state_dir / name
        backend_env = {
            **self.app_env(),
            # Each backend names itself to PostgreSQL (pg_stat_activity.application_name).
            **self.database_env(f"myhibachi-{name}"),
            "PROMETHEUS_MULTIPROC_DIR": str(base_dir / "metrics"),
            **(env or {}),
        }
        return GunicornServer(
            env=backend_env,
            workers=self.workers,
            threads=self.threads,
            config=GUNICORN_CONFIG,
            port=port or free_port(),
            name=f"myhibachi-{name}",
            base_dir=base_dir,
            app=app,
        )

    def _start_celery(self) -> None:
        assert self.servers is not None
        env = {**self.app_env(), **self.database_env("myhibachi-worker")}
        for index in range(1, self.task_workers + 1):
            name = "worker" if self.task_workers == 1 else f"worker{index}"
            port = (self.worker_metrics_port or free_port()) if index == 1 else free_port()
            self.celery_workers.append(
                CeleryWorker(
                    env=env,
                    name=name,
                    concurrency=2,
                    metrics_port=port,
                    base_dir=self.state_dir / name,
                )
            )
        self.beat = CeleryBeat(env=env, name="beat", base_dir=self.state_dir / "beat")
        for worker in self.celery_workers:
            worker.spawn()
        self.beat.spawn()
        for worker in self.celery_workers:
            worker.wait_ready(timeout=90)
        self.beat.wait_ready(timeout=90)

    def nginx_site(self) -> NginxSite:
        return NginxSite(
            listen=f"{LOOPBACK}:{self.nginx_port or free_port()}",
            backends=[f"{LOOPBACK}:{backend.port}" for backend in self.backends],
            static_root=str(self.static_root),
            limit_exempt=self.limit_exempt,
            micro_cache=self.micro_cache,
            upstream_header=self.upstream_header,
        )

    # ---------------------------------------------------------------- environment
    def app_env(self) -> dict[str, str]:
        """What every backend and ``manage.py`` run against this stack get."""
        env = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": self._secret_key,
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
            # Plain HTTP on loopback: no TLS load balancer in front of this nginx.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            # nginx connects from loopback: its X-Forwarded-For is believed, nobody else's.
            "TRUSTED_PROXIES": f"{LOOPBACK}/32",
            "STATIC_ROOT": str(self.static_root),
            "DEPLOY_ENVIRONMENT": "stack",
        }
        if self.nginx_port:
            env["SITE_URL"] = f"http://{LOOPBACK}:{self.nginx_port}"  # links in emails
        if self.servers is not None:
            env.update(self.servers.env())
        if self.sentinel is not None:
            env.update(self.sentinel.env())
            env["REDIS_URL"] = sentinel_url(self.sentinel.master_name)
        if self.broker is not None:
            env["CELERY_BROKER_URL"] = self.broker.url
        if self.broker_sentinel is not None:
            # The broker's own sentinels (the cache's watch the cache's master only).
            env["CELERY_BROKER_URL"] = celery_sentinel_broker_url(
                self.broker_sentinel.sentinel_addresses
            )
            env["CELERY_BROKER_SENTINEL_MASTER"] = self.broker_sentinel.master_name
        env.update(self.extra_env)
        return env

    def _manage(
        self, args: list[str], *, env: dict[str, str] | None = None, background: bool = False
    ) -> subprocess.Popen[bytes]:
        log = open(self.state_dir / f"manage-{args[0]}.log", "ab")  # noqa: SIM115
        # An operator's command writes, then reads what it wrote: from the primary, not from a
        # replica that may not have replayed it yet.
        command_env = {**os.environ, **self.app_env(), "REPLICA_READS_ENABLED": "false"}
        process = subprocess.Popen(  # noqa: S603 - our interpreter and manage.py
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_ROOT,
            env={**command_env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if not background:
            self._finish(process, args[0])
        return process

    def _finish(self, process: subprocess.Popen[bytes], what: str, timeout: float = 300) -> None:
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        if code != 0:
            log = (self.state_dir / f"manage-{what}.log").read_text(errors="replace")
            tail = "\n".join(log.splitlines()[-30:])
            raise ServerStartError(f"manage.py {what} failed with status {code}:\n{tail}")

    # ---------------------------------------------------------------- description
    def describe(self) -> dict[str, Any]:
        """Where everything is, for the state file, ``status`` and the start-up summary."""
        assert self.servers is not None and self.nginx is not None
        postgres = self.servers.postgres
        processes = [
            {
                "name": "nginx",
                "kind": "nginx",
                "pid": self.nginx.pid,
                "url": self.nginx.url,
                "log": str(self.nginx.access_log),
            },
            *(
                {
                    "name": backend.name.removeprefix("myhibachi-"),
                    "kind": "gunicorn",
                    "pid": backend.pid,
                    "url": backend.url,
                    "log": str(backend.base_dir / "gunicorn.log"),
                    "workers": f"{self.workers} x {self.threads} threads",
                }
                for backend in self.backends
            ),
            *(
                {
                    "name": f"postgres {server.name}",
                    "kind": "postgres",
                    "pid": server.pid,
                    "url": server.url(postgres.database),
                    "log": str(server.log_path),
                }
                for server in postgres.servers()
            ),
        ]
        for name, pooler in self.poolers.items():
            processes.append(
                {
                    "name": f"pgbouncer {name}",
                    "kind": "pgbouncer",
                    "pid": pooler.pid,
                    "url": f"postgres://postgres@{LOOPBACK}:{pooler.port}/{postgres.database}",
                    "log": str(pooler.log_path),
                }
            )
        if self.servers.redis is not None:
            processes.append(
                {
                    "name": "redis",
                    "kind": "redis",
                    "pid": self.servers.redis.pid,
                    "url": self.servers.redis.url,
                    "log": str(self.servers.redis.base_dir / "redis.log"),
                }
            )
        for label, group in (("redis", self.sentinel), ("broker", self.broker_sentinel)):
            if group is None:
                continue
            for server in group.servers:
                processes.append(
                    {
                        "name": f"{label} {server.base_dir.name}",
                        "kind": "redis",
                        "pid": server.pid,
                        "url": server.url if server.port else None,
                        "log": str(server.base_dir / "redis.log"),
                    }
                )
            for sentinel in group.sentinels:
                processes.append(
                    {
                        "name": f"{label} {sentinel.base_dir.name}",
                        "kind": "sentinel",
                        "pid": sentinel.pid,
                        "url": f"redis://{LOOPBACK}:{sentinel.port}",
                        "log": str(sentinel.base_dir / "sentinel.log"),
                    }
                )
        if self.broker is not None:
            processes.append(
                {
                    "name": "redis-broker",
                    "kind": "redis",
                    "pid": self.broker.pid,
                    "url": self.broker.url,
                    "log": str(self.broker.base_dir / "redis.log"),
                }
            )
        for worker in self.celery_workers:
            processes.append(
                {
                    "name": worker.name,
                    "kind": "celery-worker",
                    "pid": worker.pid,
                    "url": worker.metrics_url or "",
                    "log": str(worker.log_path),
                }
            )
        if self.beat is not None:
            processes.append(
                {
                    "name": "beat",
                    "kind": "celery-beat",
                    "pid": self.beat.pid,
                    "url": "",
                    "log": str(self.beat.log_path),
                }
            )
        return {
            "state_dir": str(self.state_dir),
            "site": self.nginx.url,
            "processes": processes,
            "env_file": str(self.state_dir / ENV_FILE),
        }

    def write_env_file(self) -> Path:
        """``source .stack/stack.env`` to run manage.py against this stack."""
        path = self.state_dir / ENV_FILE
        lines = [f"export {key}={shlex.quote(value)}" for key, value in self.app_env().items()]
        path.write_text("\n".join(lines) + "\n")
        os.chmod(path, 0o600)  # it holds the stack's secret key
        return path


def _with_application_name(url: str, name: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}application_name={name}"


# ---------------------------------------------------------------------------- the state file
def read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def write_state(state_dir: Path, state: dict[str, Any]) -> None:
    path = state_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2))
    temporary.replace(path)  # readers never see half a file


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def probe(url: str, timeout: float = 3) -> int | None:
    """The HTTP status of GET ``url``, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return None


# ---------------------------------------------------------------------------- commands
def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(args: argparse.Namespace) -> int:
    """The supervisor: start the stack, record it, wait for SIGTERM/SIGINT, stop it."""
    state_dir: Path = args.state_dir
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = ProductionStack(
        state_dir=state_dir,
        backend_ports=args.backend_ports,
        nginx_port=args.nginx_port,
        workers=args.workers,
        threads=args.threads,
        demo_data=not args.no_demo_data,
        micro_cache=not args.no_micro_cache,
        redis_failover=args.redis_failover,
        pgbouncer=not args.no_pgbouncer,
        synchronous=args.synchronous,
    )
    base = {"supervisor_pid": os.getpid(), "state_dir": str(state_dir)}
    write_state(state_dir, {**base, "state": "starting"})
    try:
        started = time.monotonic()
        try:
            stack.start(
                log=lambda message: print(
                    f"stack: [{time.monotonic() - started:5.1f}s] {message}", flush=True
                )
            )
        except (MissingBinary, ServerStartError, OSError) as exc:
            print(f"stack: error: {exc}", flush=True)
            write_state(state_dir, {**base, "state": "failed", "error": str(exc)})
            return 1
        stack.write_env_file()
        write_state(state_dir, {**base, "state": "ready", **stack.describe()})
        print(f"stack: [{time.monotonic() - started:5.1f}s] ready", flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()
        with contextlib.suppress(OSError):
            if (read_state(state_dir) or {}).get("state") != "failed":
                (state_dir / STATE_FILE).unlink()
        print("stack: stopped", flush=True)


def up(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    state = read_state(state_dir)
    if state and pid_alive(state.get("supervisor_pid")):
        print(f"The stack in {state_dir} is already running.")
        return status(args)
    if state_dir.exists() and any(state_dir.iterdir()) and not (state_dir / MARKER).exists():
        print(f"error: {state_dir} is not empty and is not a stack's directory", file=sys.stderr)
        return 2
    # A fresh stack each time: the last one's data, logs and sockets go.
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True)
    (state_dir / MARKER).touch()
    argv = [sys.executable, "-m", "devstack.topology", "serve", *_serve_args(args)]
    with open(state_dir / LOG_FILE, "ab") as log:
        supervisor = subprocess.Popen(  # noqa: S603 - our interpreter and module
            argv,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command and the terminal's Ctrl-C
        )
    print(f"Starting the stack in {state_dir} (log: {state_dir / LOG_FILE}) ...", flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        state = read_state(state_dir) or {}
        if state.get("state") == "ready":
            print_summary(state)
            return 0
        if state.get("state") == "failed" or supervisor.poll() is not None:
            break
        time.sleep(0.25)
    else:
        print(f"error: the stack was not ready in {args.timeout:.0f}s", file=sys.stderr)
        supervisor.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        supervisor.wait(60)
    log_tail = (state_dir / LOG_FILE).read_text(errors="replace").splitlines()[-40:]
    print("error: the stack did not start:\n" + "\n".join(log_tail), file=sys.stderr)
    return 1


def _serve_args(args: argparse.Namespace) -> list[str]:
    ports = ",".join(str(port or 0) for port in args.backend_ports)
    argv = [
        "--state-dir", str(args.state_dir),
        "--backend-ports", ports,
        "--nginx-port", str(args.nginx_port or 0),
        "--workers", str(args.workers),
        "--threads", str(args.threads),
    ]  # fmt: skip
    if args.no_demo_data:
        argv.append("--no-demo-data")
    if args.no_micro_cache:
        argv.append("--no-micro-cache")
    if args.redis_failover:
        argv.append("--redis-failover")
    if args.no_pgbouncer:
        argv.append("--no-pgbouncer")
    if args.synchronous:
        argv.append("--synchronous")
    return argv


def down(args: argparse.Namespace) -> int:
    state = read_state(args.state_dir)
    pid = (state or {}).get("supervisor_pid")
    if not pid_alive(pid):
        print(f"No stack is running in {args.state_dir}.")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid):
        print(f"error: the supervisor (pid {pid}) did not stop; killing it", file=sys.stderr)
        os.kill(pid, signal.SIGKILL)  # its servers get their parent-death signal
        return 1
    print(f"The stack in {args.state_dir} is stopped (logs kept there until the next `up`).")
    return 0


def status(args: argparse.Namespace) -> int:
    """Exit 0 when every process runs and every /readyz answers 200, 1 when something is
    wrong, 3 when no stack runs (the LSB convention)."""
    state = read_state(args.state_dir)
    if not state or not pid_alive(state.get("supervisor_pid")):
        print(f"No stack is running in {args.state_dir}.")
        return 3
    if state.get("state") != "ready":
        print(f"The stack in {args.state_dir} is {state.get('state')}.")
        return 1
    healthy = True
    print(f"MyHibachi stack in {state['state_dir']} (supervisor pid {state['supervisor_pid']})")
    for process in state["processes"]:
        alive = pid_alive(process["pid"])
        line = f"  {process['name']:<20} pid {process['pid']!s:<8} {'up' if alive else 'DOWN':<5}"
        if process["kind"] in ("nginx", "gunicorn"):
            code = probe(f"{process['url']}/readyz")
            line += f" {process['url']:<24} /readyz {code or 'no answer'}"
            healthy &= code == 200
        else:
            line += f" {process['url']}"
        healthy &= alive
        print(line)
    return 0 if healthy else 1


def print_summary(state: dict[str, Any]) -> None:
    site = state["site"]
    print(f"\nThe stack is up: {site}/  (state in {state['state_dir']})\n")
    print(f"  API            {site}/api/v1/          docs {site}/api/docs/")
    print(f"  admin          {site}/admin/  (demo staff: admin@example.com / hibachi-admin-demo)")
    for process in state["processes"]:
        print(f"  {process['name']:<14} {process['url']:<48} pid {process['pid']}")
        print(f"  {'':<14} log {process['log']}")
    print(f"\n  environment    source {state['env_file']}  (manage.py against this stack)")
    print("  /metrics       on each backend directly (Prometheus: deploy/prometheus/)")
    print("\nStatus: make stack-status    Stop: make stack-down")


def _ports(text: str) -> list[int | None]:
    """ "8000,8001,8002" or "auto" (three free ports); 0 means a free port."""
    if text.strip() == "auto":
        return [None, None, None]
    return [int(part) or None for part in text.split(",") if part.strip()]


def _port(text: str) -> int | None:
    return None if text.strip() == "auto" else (int(text) or None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy/local/stack", description="The production topology on this machine."
    )
    parser.add_argument("command", choices=["up", "down", "status", "serve"])
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("STACK_DIR", DEFAULT_STATE_DIR)),
        help="where every server keeps its files (default .stack, or $STACK_DIR)",
    )
    parser.add_argument(
        "--backend-ports",
        type=_ports,
        default=_ports(os.environ.get("STACK_BACKEND_PORTS", "8000,8001,8002")),
        help='comma-separated, or "auto" for free ports ($STACK_BACKEND_PORTS)',
    )
    parser.add_argument(
        "--nginx-port",
        type=_port,
        default=_port(os.environ.get("STACK_NGINX_PORT", str(DEFAULT_NGINX_PORT))),
        help='nginx\'s port, or "auto" ($STACK_NGINX_PORT)',
    )
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("STACK_WORKERS", DEFAULT_WORKERS))
    )
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("STACK_THREADS", DEFAULT_THREADS))
    )
    parser.add_argument("--no-demo-data", action="store_true", help="skip seed_demo")
    parser.add_argument("--no-micro-cache", action="store_true", help="nginx caches nothing")
    parser.add_argument(
        "--redis-failover",
        action="store_true",
        default=os.environ.get("STACK_REDIS_FAILOVER", "") not in ("", "0", "false"),
        help="Redis master + replica + three sentinels ($STACK_REDIS_FAILOVER)",
    )
    parser.add_argument(
        "--no-pgbouncer",
        action="store_true",
        default=os.environ.get("STACK_PGBOUNCER", "true").lower() in ("0", "false", "no", "off"),
        help="backends connect to PostgreSQL directly, not through PgBouncer ($STACK_PGBOUNCER)",
    )
    parser.add_argument(
        "--synchronous",
        action="store_true",
        default=os.environ.get("STACK_SYNCHRONOUS", "").lower() in ("1", "true", "yes", "on"),
        help="synchronous replication: a commit waits for the standby ($STACK_SYNCHRONOUS)",
    )
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for up/down")
    args = parser.parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    commands = {"up": up, "down": down, "status": status, "serve": serve}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
