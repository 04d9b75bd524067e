"""A throwaway Redis server on a loopback port: no persistence, its own directory."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from devstack.binaries import redis_server_binary
from devstack.processes import (
    LOOPBACK,
    ManagedProcess,
    ServerStartError,
    forget_at_exit,
    free_port,
    make_temp_base_dir,
    remove_tree,
    stop_at_exit,
)

PORT_ATTEMPTS = 3


class RedisServer:
    """``redis-server`` as a child process; ``.url`` is what REDIS_URL expects."""

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        binary: Path | None = None,
        keep_files: bool = False,
        extra_args: list[str] | None = None,
    ) -> None:
        self.binary = binary or redis_server_binary()
        # More server options, e.g. ["--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru"].
        self.extra_args = extra_args or []
        self._own_base_dir = base_dir is None
        self.base_dir = Path(base_dir or make_temp_base_dir("myhibachi-redis-"))
        self.keep_files = keep_files
        self.port: int | None = None
        self._process: ManagedProcess | None = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self.cleanup()

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the Redis server has not been started")
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (tests freeze it with SIGSTOP to make it hang)."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 10) -> RedisServer:
        """Start (or restart on the same port) and wait until it answers PING."""
        if self.running:
            return self
        stop_at_exit(self)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        keep_port = self.port is not None
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = self.port if keep_port else free_port()
            self._process = ManagedProcess(
                [
                    str(self.binary),
                    "--bind",
                    LOOPBACK,
                    "--port",
                    str(port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.base_dir),
                    "--daemonize",
                    "no",
                    "--protected-mode",
                    "no",
                    *self.extra_args,
                ],
                log_path=self.base_dir / "redis.log",
            )
            self._process.start()
            try:
                self._wait_ready(port, timeout)  # type: ignore[arg-type]
            except ServerStartError:
                self._process.stop()
                self._process = None
                if keep_port or attempt == PORT_ATTEMPTS:
                    raise
                continue
            self.port = port
            return self
        raise AssertionError("unreachable")

    def _wait_ready(self, port: int, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        client = redis.Redis(
            host=LOOPBACK, port=port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        try:
            while time.monotonic() < deadline:
                if not self._process.alive():
                    raise ServerStartError(
                        f"redis-server exited while starting on port {port}:\n"
                        f"{self._process.log_tail()}"
                    )
                with contextlib.suppress(redis.ConnectionError):
                    if client.ping():
                        return
                time.sleep(0.02)
        finally:
            client.close()
        raise ServerStartError(
            f"redis-server did not answer on port {port} within {timeout}s:\n"
            f"{self._process.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server; ``start()`` brings it back on the same port, empty."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        forget_at_exit(self)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would; ``start()`` brings it back, empty."""
        if self._process is not None:
            self._process.kill_group(signal.SIGKILL)
        self.stop()

    def cleanup(self) -> None:
        if self._own_base_dir and not self.keep_files and not self.running:
            remove_tree(self.base_dir)

    def client(self) -> redis.Redis:
        """A client that fails at once, without retries, when the server is down."""
        if self.port is None:
            raise RuntimeError("the Redis server has not been started")
        return redis.Redis(
            host=LOOPBACK, port=self.port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url}
