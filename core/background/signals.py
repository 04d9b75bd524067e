"""Celery signal handlers: task metrics, and the worker's /metrics server and readiness file.

Connected once per process by ``connect()`` (core/apps.py); Celery's Django fix-up sets Django
up before the worker sends ``worker_init``, so they are in place for every worker signal.

- ``task_prerun`` / ``task_success`` / ``task_failure`` / ``task_retry`` count runs per task
  name and observe the enqueue -> start latency (first runs only: a retry's wait is back-off
  it chose, not queueing) and the duration.
- A prefork worker's pool processes each write their metric files to
  ``PROMETHEUS_MULTIPROC_DIR`` (emptied at ``worker_init``); the main process serves their sum
  on ``CELERY_WORKER_METRICS_PORT`` (``core.observability.exposition``), and a pool process
  that exits folds its files into the archives (``core.observability.multiprocess``).
- ``CELERY_WORKER_READY_FILE`` exists while the worker consumes (Kubernetes' readiness probe).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from celery import signals

logger = logging.getLogger(__name__)

_started: dict[str, float] = {}
_connected = False


def connect() -> None:
    global _connected
    if _connected:
        return
    _connected = True
    signals.task_prerun.connect(on_task_prerun, weak=False)
    signals.task_postrun.connect(on_task_postrun, weak=False)
    signals.task_success.connect(on_task_success, weak=False)
    signals.task_failure.connect(on_task_failure, weak=False)
    signals.task_retry.connect(on_task_retry, weak=False)
    signals.worker_init.connect(on_worker_init, weak=False)
    signals.worker_ready.connect(on_worker_ready, weak=False)
    signals.worker_shutdown.connect(on_worker_shutdown, weak=False)
    signals.worker_process_shutdown.connect(on_worker_process_shutdown, weak=False)


# ---------------------------------------------------------------------------- task metrics
def on_task_prerun(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    from core.background.reliability import enqueued_at
    from core.observability import metrics

    name = getattr(sender, "name", "unknown")
    metrics.tasks_started.labels(task=name).inc()
    request = getattr(sender, "request", None)
    if task_id:
        _started[task_id] = time.monotonic()
    if request is None or getattr(request, "retries", False):
        return
    enqueued = enqueued_at(request)
    if enqueued is not None:
        metrics.task_queue_latency.labels(task=name).observe(max(0.0, time.time() - enqueued))


def on_task_postrun(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    from core.observability import metrics

    started = _started.pop(task_id or "", None)
    if started is not None:
        name = getattr(sender, "name", "unknown")
        metrics.task_duration.labels(task=name).observe(time.monotonic() - started)


def on_task_success(sender: Any = None, **kwargs: Any) -> None:
    from core.observability import metrics

    metrics.tasks_succeeded.labels(task=getattr(sender, "name", "unknown")).inc()


def on_task_failure(sender: Any = None, **kwargs: Any) -> None:
    from core.observability import metrics

    metrics.tasks_failed.labels(task=getattr(sender, "name", "unknown")).inc()


def on_task_retry(sender: Any = None, **kwargs: Any) -> None:
    from core.observability import metrics

    metrics.tasks_retried.labels(task=getattr(sender, "name", "unknown")).inc()


# ---------------------------------------------------------------------------- the worker
def on_worker_init(**kwargs: Any) -> None:
    from core.observability import multiprocess

    path = multiprocess.directory()
    if path is not None:
        multiprocess.prepare_directory(path)


def on_worker_ready(**kwargs: Any) -> None:
    from django.conf import settings

    port = settings.CELERY_WORKER_METRICS_PORT
    if port:
        start_metrics_server(port, settings.CELERY_WORKER_METRICS_ADDRESS or "")
    ready_file = settings.CELERY_WORKER_READY_FILE
    if ready_file:
        Path(ready_file).touch()


def on_worker_shutdown(**kwargs: Any) -> None:
    from django.conf import settings

    ready_file = settings.CELERY_WORKER_READY_FILE
    if ready_file:
        with contextlib.suppress(FileNotFoundError):
            Path(ready_file).unlink()


def on_worker_process_shutdown(pid: int | None = None, **kwargs: Any) -> None:
    from core.observability import multiprocess

    path = multiprocess.directory()
    if path is not None:
        with contextlib.suppress(OSError):
            multiprocess.retire_worker(pid or os.getpid(), path)


class _LiveMetrics:
    """A registry-like object: every scrape collects the pool processes' current files."""

    def collect(self) -> Any:
        from core.observability import exposition

        return exposition.snapshot().collect()


def start_metrics_server(port: int, address: str) -> None:
    """Serve /metrics for the worker's processes on ``address:port`` (a daemon thread)."""
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=address, registry=_LiveMetrics())
    except OSError as exc:
        logger.error("worker metrics: cannot listen on %s:%s: %s", address, port, exc)
        return
    logger.info("worker metrics on http://%s:%s/metrics", address, port)
