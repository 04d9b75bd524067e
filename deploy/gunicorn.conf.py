"""gunicorn settings for a web backend: ``gunicorn -c deploy/gunicorn.conf.py``.

Every value can be changed from the environment (or the command line, which wins):
``GUNICORN_BIND``, ``WEB_CONCURRENCY`` (worker processes), ``GUNICORN_THREADS``,
``GUNICORN_MAX_REQUESTS`` / ``GUNICORN_MAX_REQUESTS_JITTER``, ``GUNICORN_TIMEOUT``.

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

import os
import sys
import tempfile
from pathlib import Path

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
wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Recycle workers now and then (a leak stays bounded); jitter so they do not all restart at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "500"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
# Longer than nginx's upstream keepalive_timeout would close it, shorter than a load balancer's.
keepalive = 5
# The app writes one JSON line per request (core/observability/middleware.py); gunicorn's own
# access log would only repeat it without the request id.
accesslog = None
errorlog = "-"
# gunicorn's control socket defaults to one path per user: several backends on one machine
# would fight over it. Off unless a path is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


# ------------------------------------------------------------------------------ hooks
def on_starting(server):
    from core.observability import multiprocess

    multiprocess.prepare_directory(_METRICS_DIR)
    server.log.info("Prometheus multiprocess directory: %s", _METRICS_DIR)


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
