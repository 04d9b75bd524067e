"""The app under real gunicorn on a loopback port, for end-to-end tests and local stacks."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from core.localservers.processes import (
    LOOPBACK,
    ManagedProcess,
    ServerStartError,
    free_port,
    make_temp_base_dir,
    remove_tree,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class GunicornServer:
    """``gunicorn config.wsgi`` with ``workers`` processes of ``threads`` threads each.

    ``env`` is added to this process's environment (DATABASE_URL, REDIS_URL, settings module,
    ...). ``config`` is a gunicorn config file (``deploy/gunicorn.conf.py``); without it the
    command line sets gthread workers.
    """

    def __init__(
        self,
        *,
        env: dict[str, str],
        workers: int = 2,
        threads: int = 4,
        config: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.config = config
        self.extra_args = extra_args or []
        self.base_dir = make_temp_base_dir("myhibachi-gunicorn-")
        self.port: int | None = None
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

    def start(self, timeout: float = 60) -> GunicornServer:
        self.port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
        if self.config is not None:
            argv += ["--config", str(self.config)]
        argv += [
            "--chdir", str(PROJECT_ROOT),
            "--bind", f"{LOOPBACK}:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--worker-class", "gthread",
            *self.extra_args,
        ]  # fmt: skip
        self._process = ManagedProcess(argv, log_path=self.base_dir / "gunicorn.log", env=self.env)
        self._process.start()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
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

    def log(self) -> str:
        return (self.base_dir / "gunicorn.log").read_text(errors="replace")

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def cleanup(self) -> None:
        self.stop()
        remove_tree(self.base_dir)
