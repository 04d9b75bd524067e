"""Celery worker and beat processes on this machine, for tests and the local stack.

::

    worker = CeleryWorker(env={"DATABASE_URL": ..., "CELERY_BROKER_URL": ...}, name="w1")
    worker.start()        # returns once it consumes (its readiness file exists)
    worker.stop()         # SIGTERM: a warm shutdown, running tasks finish first
    worker.kill()         # SIGKILL of the main process and its pool, as a crash would

``env`` is added to this process's environment, like ``GunicornServer``'s.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from devstack.gunicorn import PROJECT_ROOT
from devstack.processes import (
    ManagedProcess,
    ServerStartError,
    make_temp_base_dir,
    remove_tree,
)

# A warm shutdown waits for the running tasks: the longest hard time limit, plus margin.
WARM_SHUTDOWN_SECONDS = 100


class _CeleryProcess:
    command: str = ""

    def __init__(self, *, env: dict[str, str], name: str, base_dir: Path | None) -> None:
        self.name = name
        self._own_base_dir = base_dir is None
        self.base_dir = Path(base_dir or make_temp_base_dir(f"myhibachi-{self.command}-"))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **env}
        self._process: ManagedProcess | None = None

    @property
    def log_path(self) -> Path:
        return self.base_dir / f"{self.command}.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "celery", "--workdir", str(PROJECT_ROOT), "-A", "config"]

    def spawn(self) -> None:
        self._process = ManagedProcess(self.argv(), log_path=self.log_path, env=self.env)
        self._process.start()

    def stop(self, timeout: float = WARM_SHUTDOWN_SECONDS) -> None:
        """SIGTERM and wait: the worker stops taking messages and finishes what it runs."""
        if self._process is not None:
            self._process.stop(timeout=timeout)
            self._process = None

    def kill(self) -> None:
        """SIGKILL the process and every process it started, at once."""
        if self._process is not None:
            self._process.kill_group(signal.SIGKILL)
            self._process.stop()
            self._process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def cleanup(self) -> None:
        self.stop()
        if self._own_base_dir:
            remove_tree(self.base_dir)

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if not self.running:
                break
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop(timeout=10)
        raise ServerStartError(f"celery {self.command} {self.name} did not {what}:\n{tail}")


class CeleryWorker(_CeleryProcess):
    """``celery -A config worker``: ``concurrency`` pool processes (prefork) on ``queues``.

    Its readiness file (``CELERY_WORKER_READY_FILE``) appears once it consumes; with
    ``metrics_port`` it serves /metrics there (``CELERY_WORKER_METRICS_PORT``), from the pool
    processes' files in its own ``PROMETHEUS_MULTIPROC_DIR``.
    """

    command = "worker"

    def __init__(
        self,
        *,
        env: dict[str, str],
        name: str = "worker",
        concurrency: int = 2,
        pool: str = "prefork",
        queues: list[str] | None = None,
        metrics_port: int | None = None,
        base_dir: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        super().__init__(env=env, name=name, base_dir=base_dir)
        self.concurrency = concurrency
        self.pool = pool
        self.queues = queues or []
        self.metrics_port = metrics_port
        self.extra_args = extra_args or []
        self.ready_file = self.base_dir / "ready"
        self.env["CELERY_WORKER_READY_FILE"] = str(self.ready_file)
        metrics_dir = self.base_dir / "metrics"
        metrics_dir.mkdir(exist_ok=True)
        self.env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        if metrics_port:
            self.env["CELERY_WORKER_METRICS_PORT"] = str(metrics_port)
            self.env["CELERY_WORKER_METRICS_ADDRESS"] = "127.0.0.1"

    @property
    def hostname(self) -> str:
        return f"{self.name}@{os.uname().nodename}"

    @property
    def metrics_url(self) -> str | None:
        return f"http://127.0.0.1:{self.metrics_port}/metrics" if self.metrics_port else None

    def argv(self) -> list[str]:
        argv = [
            *super().argv(),
            "worker",
            "--loglevel", "INFO",
            "--hostname", self.hostname,
            "--concurrency", str(self.concurrency),
            "--pool", self.pool,
            # No start-up handshake with other workers, no gossip: a faster start, less chatter.
            "--without-mingle",
            "--without-gossip",
        ]  # fmt: skip
        if self.queues:
            argv += ["--queues", ",".join(self.queues)]
        return argv + self.extra_args

    def start(self, timeout: float = 60) -> CeleryWorker:
        self.ready_file.unlink(missing_ok=True)
        self.spawn()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        self._wait(self.ready_file.exists, "become ready", timeout)

    def pool_pids(self) -> list[int]:
        return self._process.children() if self._process is not None else []


class CeleryBeat(_CeleryProcess):
    """``celery -A config beat``: the one scheduler of housekeeping tasks (schedule file in its
    directory). Run exactly one per broker, or every task is enqueued once per beat."""

    command = "beat"

    def argv(self) -> list[str]:
        return [
            *super().argv(),
            "beat",
            "--loglevel", "INFO",
            "--schedule", str(self.base_dir / "celerybeat-schedule"),
        ]  # fmt: skip

    def start(self, timeout: float = 60) -> CeleryBeat:
        self.spawn()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        self._wait(lambda: "beat: Starting..." in self.log(), "start", timeout)
