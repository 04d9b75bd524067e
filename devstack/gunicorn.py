"""The app under real gunicorn on a loopback port, for end-to-end tests and local stacks."""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devstack.processes import (
    LOOPBACK,
    ManagedProcess,
    ServerStartError,
    free_port,
    make_temp_base_dir,
    remove_tree,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class GunicornServer:
    """``gunicorn config.wsgi`` with ``workers`` processes of ``threads`` threads each.

    ``env`` is added to this process's environment (DATABASE_URL, REDIS_URL, settings module,
    ...). ``config`` is a gunicorn config file (``deploy/gunicorn.conf.py``); without it the
    command line sets gthread workers. ``app`` is the WSGI application (the benchmark serves its
    minimal Django view through the same configuration).
    """

    def __init__(
        self,
        *,
        env: dict[str, str],
        workers: int = 2,
        threads: int = 4,
        config: Path | None = None,
        extra_args: list[str] | None = None,
        port: int | None = None,
        name: str = "gunicorn",
        base_dir: Path | None = None,
        app: str = "config.wsgi:application",
    ) -> None:
        self.env = {**os.environ, **env}
        self.app = app
        self.workers = workers
        self.threads = threads
        self.config = config
        self.extra_args = extra_args or []
        self.name = name
        self._own_base_dir = base_dir is None
        self.base_dir = base_dir or make_temp_base_dir("myhibachi-gunicorn-")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        # A fixed port (the local stack's 8000-8002) or, unset, a free one at each start.
        self._fixed_port = port
        self.port: int | None = port
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("gunicorn has not been started")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    def start(self, timeout: float = 60) -> GunicornServer:
        """Start the master and wait until a worker answers ``/healthz``."""
        self.spawn()
        self.wait_ready(timeout)
        return self

    def spawn(self) -> None:
        """Start the master without waiting (start several, then ``wait_ready`` each)."""
        self.port = self._fixed_port or free_port()
        argv = [sys.executable, "-m", "gunicorn", self.app]
        if self.config is not None:
            argv += ["--config", str(self.config.resolve())]
        else:
            argv += ["--worker-class", "gthread"]  # a config file names its own
        argv += [
            "--chdir", str(PROJECT_ROOT),
            "--bind", f"{LOOPBACK}:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--name", self.name,
            *self.extra_args,
        ]  # fmt: skip
        self._process = ManagedProcess(argv, log_path=self.base_dir / "gunicorn.log", env=self.env)
        self._process.start()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or not self._process.alive():
                break
            try:
                health = f"{self.url}/healthz"  # always our own loopback server
                with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        tail = self._process.log_tail() if self._process else ""
        self.stop()
        raise ServerStartError(f"gunicorn did not answer /healthz in {timeout}s:\n{tail}")

    # ---------------------------------------------------------------- signals
    def reload(self) -> None:
        """``kill -HUP`` the master: new workers with fresh code, old ones finish and exit."""
        if self._process is not None:
            self._process.send_signal(signal.SIGHUP)

    def terminate(self) -> None:
        """``kill PID`` (SIGTERM) without waiting: the workers finish what they serve, then the
        master exits (``stop`` waits for that)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the master and its workers at once, as a crash would (``start`` again)."""
        if self._process is not None:
            self._process.kill_group(signal.SIGKILL)
            self._process.stop()
            self._process = None

    def freeze(self) -> None:
        """SIGSTOP the master and workers: connections open, nothing answers (``thaw``)."""
        if self._process is not None:
            self._process.kill_group(signal.SIGSTOP)

    def thaw(self) -> None:
        if self._process is not None:
            self._process.kill_group(signal.SIGCONT)

    def worker_pids(self) -> list[int]:
        return self._process.children() if self._process is not None else []

    def log(self) -> str:
        return (self.base_dir / "gunicorn.log").read_text(errors="replace")

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_base_dir:
            remove_tree(self.base_dir)
