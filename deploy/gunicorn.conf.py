"""gunicorn settings for a web backend: ``gunicorn -c deploy/gunicorn.conf.py``.

Every value can be changed from the environment (or the command line, which wins):
``GUNICORN_BIND``, ``WEB_CONCURRENCY`` (worker processes; default 2 x CPUs + 1, counting the
CPUs this process may use: affinity and the container's cgroup quota), ``GUNICORN_THREADS``,
``GUNICORN_MAX_REQUESTS`` / ``GUNICORN_MAX_REQUESTS_JITTER``, ``GUNICORN_TIMEOUT``,
``GUNICORN_GRACEFUL_TIMEOUT``, ``GUNICORN_KEEPALIVE``, ``GUNICORN_WORKER_TMP_DIR``,
``GUNICORN_FORWARDED_ALLOW_IPS`` (default: ``TRUSTED_PROXIES``, else loopback),
``GUNICORN_PRELOAD`` (default true), ``GUNICORN_ACCESS_LOG`` (a path or ``-``: gunicorn's own
access log, one JSON object a line).

Workers are ``gthread``: each serves ``threads`` requests at once and keeps client (nginx)
connections alive; the sync worker ignores keep-alive.

Prometheus multiprocess mode (https://prometheus.github.io/client_python/multiprocess/):
every worker writes its metrics under ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them
up, whichever worker answers the scrape. The variable has to be in the environment before any
worker imports prometheus_client, so it is settled here, when gunicorn reads this file, before
anything else runs. Unset, it defaults to a directory of this master's own (pid in the name),
so several backends on one machine never share one. ``on_starting`` empties it, ``child_exit``
retires a dead worker's files (recycled workers would otherwise pile them up), ``on_exit``
removes the default directory.
"""

import datetime
import json
import math
import os
import sys
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

_PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(_PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(_PROJECT_ROOT))  # the hooks import core.observability

# ------------------------------------------------------------------------------ metrics directory
_DEFAULT_METRICS_DIR = os.path.join(tempfile.gettempdir(), f"myhibachi-metrics-{os.getpid()}")
_METRICS_DIR = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", _DEFAULT_METRICS_DIR)
# Exists from now on: with --preload or --check-config the app (and its metrics) load in the
# master before on_starting runs.
os.makedirs(_METRICS_DIR, exist_ok=True)


# ------------------------------------------------------------------------------ server
def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (a container
    limited to 500m CPU on a 64-core node must not start 129 workers)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def _cgroup_cpu_quota(root: Path) -> float | None:
    try:  # cgroup v2: "max 100000" or "50000 100000"
        limit, period = (root / "cpu.max").read_text().split()[:2]
        if limit != "max":
            return int(limit) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def _tmpfs_dir() -> str | None:
    """The shared-memory tmpfs when it is a writable directory: the workers' heartbeat files are
    touched every second, and on a disk-backed temporary directory that fchmod can block a
    worker (gunicorn's FAQ, "Blocking os.fchmod")."""
    configured = os.environ.get("GUNICORN_WORKER_TMP_DIR")
    if configured:
        return configured
    shm = "/dev/shm"  # noqa: S108 - a tmpfs, not a predictable file name
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _forwarded_allow_ips() -> str:
    """Only our own proxies may set X-Forwarded-Proto and friends: the addresses the app
    trusts (TRUSTED_PROXIES), else loopback. Never "*", which would let any client claim to be
    on HTTPS."""
    value = (
        os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS")
        or os.environ.get("TRUSTED_PROXIES")
        or "127.0.0.1,::1"
    )
    if "*" in value:
        raise RuntimeError(
            "forwarded_allow_ips must list the proxies' addresses; '*' trusts every client"
        )
    return value


wsgi_app = "config.wsgi:application"
# The app is imported once, in the master, and every worker is forked from it ready to serve:
# a worker that starts (HUP, max_requests recycling, a crash) costs no second or two of Django
# start-up while its requests queue behind it, and the workers share the loaded code's memory.
# The price: HUP then reloads this configuration but not the code; a deploy restarts the
# backend (one at a time behind nginx, which retries idempotent requests on the others).
# GUNICORN_PRELOAD=false makes HUP re-import the code instead.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() not in {"0", "false", "no", "off"}
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
# gthread, refusing new connections the moment it starts shutting down (deploy/gunicorn_worker.py)
worker_class = "deploy.gunicorn_worker.ThreadWorkerClosingListeners"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * available_cpus() + 1)
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Recycle workers now and then (a leak stays bounded); jitter so they do not all restart at once.
# Not often: a recycled worker drops its connections and its in-process caches (L1, rendered
# bodies, replayed answers). At 5,000 a worker serving cached reads restarted every few
# seconds under load, which cost ~20 % of the throughput and most of the p99
# (docs/benchmarks/2026-11-26.md); 100,000 is minutes at full load and hours at a quiet hour.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "10000"))
# A worker silent this long is killed and replaced (nginx's proxy_read_timeout is longer).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# SIGTERM / SIGHUP: workers stop accepting and get this long to finish what they serve. Kubernetes'
# terminationGracePeriodSeconds covers the preStop sleep plus this (deploy/k8s/deployment.yaml).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Longer than nginx's upstream keepalive_timeout (4 s), so nginx always closes an idle
# connection first and never sends a request on one gunicorn is closing.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
worker_tmp_dir = _tmpfs_dir()
forwarded_allow_ips = _forwarded_allow_ips()
# The app writes one JSON line per request with the request id (core/observability/
# middleware.py), so gunicorn's access log is off unless asked for; asked for, it is JSON too.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
# gunicorn's control socket defaults to one path per user: several backends on one machine
# would fight over it. Off unless a path is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


class JsonAccessLogger(Logger):
    """gunicorn's access log as one JSON object per line (field names as in the app's log)."""

    def access(self, resp, req, environ, request_time):
        if not getattr(self, "access_log_enabled", bool(self.cfg.accesslog)):
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = {name.lower(): value for name, value in resp.headers}
        record = {
            "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            "logger": "gunicorn.access",
            "request_id": headers.get("x-request-id"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING") or None,
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "peer": environ.get("REMOTE_ADDR"),
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "pid": os.getpid(),
        }
        try:
            self.access_log.info(json.dumps(record))
        except Exception:  # a log line must never fail a request
            self.exception("could not write the access log")


logger_class = JsonAccessLogger


# ------------------------------------------------------------------------------ hooks
def on_starting(server):
    from core.observability import multiprocess

    multiprocess.prepare_directory(_METRICS_DIR)
    server.log.info("Prometheus multiprocess directory: %s", _METRICS_DIR)


def post_fork(server, worker):
    if server.cfg.preload_app:
        from core.observability.apps import publish_settings

        publish_settings()


def child_exit(server, worker):
    from core.observability import multiprocess

    try:
        multiprocess.retire_worker(worker.pid, _METRICS_DIR)
    except Exception:  # never let bookkeeping take the master down
        server.log.exception("could not retire the metrics of worker %s", worker.pid)


def on_exit(server):
    if _METRICS_DIR == _DEFAULT_METRICS_DIR:
        import shutil

        shutil.rmtree(_METRICS_DIR, ignore_errors=True)
