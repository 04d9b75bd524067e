"""nginx in front of the backends, from deploy/nginx's template, with every file in one prefix.

``NginxServer(site, prefix)`` renders the configuration into ``prefix/nginx.conf`` and runs
``nginx -p PREFIX -c FILE -g 'daemon off;'`` as a child process: its pid file, logs, temporary
files and micro-cache stay in ``prefix`` (nothing under /var/lib/nginx), so several can run
side by side.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from deploy.nginx.render import NginxSite, render
from devstack.binaries import INSTALL_HINT, MissingBinary
from devstack.processes import LOOPBACK, ManagedProcess, ServerStartError, child_pids

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def nginx_binary() -> Path:
    """``$NGINX``, ``nginx`` on PATH, or the usual install locations."""
    found = os.environ.get("NGINX") or shutil.which("nginx")
    if not found:
        found = next((path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None)
    if not found or not os.access(found, os.X_OK):
        raise MissingBinary(f"nginx was not found. {INSTALL_HINT}")
    return Path(found)


def prepare_prefix(prefix: Path) -> None:
    """The directories nginx expects to exist under its prefix (it creates only the last
    level of each temporary path). World-readable: nginx's workers run as nobody under root."""
    for name in ("", "logs", "tmp", "cache"):
        (prefix / name).mkdir(parents=True, exist_ok=True)
        os.chmod(prefix / name, 0o755)  # noqa: S103 - nginx's workers must read it


def check_config(config: Path, prefix: Path, binary: Path | None = None) -> str:
    """``nginx -t``: return its output, or raise ``ServerStartError`` with it."""
    result = subprocess.run(  # noqa: S603 - a resolved binary and our own paths
        [str(binary or nginx_binary()), "-t", "-q", "-p", f"{prefix}/", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise ServerStartError(f"nginx -t failed for {config}:\n{output}")
    return output


class NginxServer:
    """One nginx master (and its workers) serving ``site`` from ``prefix``."""

    def __init__(
        self,
        site: NginxSite,
        *,
        prefix: Path,
        binary: Path | None = None,
        template: str | None = None,
    ) -> None:
        self.site = site
        self.prefix = prefix
        self.binary = binary or nginx_binary()
        # None: deploy/nginx's template (another: bench/micro/nginx_tuning)
        self.template = template
        self.config = prefix / "nginx.conf"
        self._process: ManagedProcess | None = None

    @property
    def port(self) -> int:
        return int(self.site.listen.rsplit(":", 1)[-1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    @property
    def access_log(self) -> Path:
        return self.prefix / self.site.access_log

    def worker_pids(self) -> list[int]:
        return child_pids(self.pid) if self.pid else []

    def write_config(self) -> Path:
        prepare_prefix(self.prefix)
        self.config.write_text(render(self.site, self.template))
        return self.config

    def start(self, timeout: float = 15) -> NginxServer:
        self.write_config()
        check_config(self.config, self.prefix, self.binary)
        argv = [
            str(self.binary),
            "-p", f"{self.prefix}/",
            "-c", str(self.config),
            "-g", "daemon off;",
        ]  # fmt: skip
        self._process = ManagedProcess(
            argv,
            log_path=self.prefix / "logs" / "nginx.out",
            stop_signal=signal.SIGQUIT,  # graceful: finish the requests in flight
            kill_signal_on_parent_death=signal.SIGTERM,
        )
        self._process.start()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or not self._process.alive():
                break
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        tail = self._process.log_tail() if self._process else ""
        error_log = self.prefix / self.site.error_log
        if error_log.exists():
            tail += "\n" + "\n".join(error_log.read_text(errors="replace").splitlines()[-20:])
        self.stop()
        raise ServerStartError(f"nginx did not listen on port {self.port} in {timeout}s:\n{tail}")

    def reload(self, site: NginxSite | None = None, timeout: float = 15) -> None:
        """Re-render (optionally a changed ``site``), check, and ``nginx -s reload``: new
        workers take the new configuration, old ones finish their requests and exit. Returns
        once the old workers are gone, so every new connection gets the new configuration."""
        old_workers = set(self.worker_pids())
        if site is not None:
            self.site = dataclasses.replace(site, listen=self.site.listen)
        self.write_config()
        check_config(self.config, self.prefix, self.binary)
        result = subprocess.run(  # noqa: S603 - a resolved binary and our own paths
            [str(self.binary), "-s", "reload", "-p", f"{self.prefix}/", "-c", str(self.config)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise ServerStartError(f"nginx -s reload failed:\n{result.stdout}{result.stderr}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = set(self.worker_pids())
            if workers and not workers & old_workers:
                return
            time.sleep(0.02)
        raise ServerStartError(f"nginx's old workers did not exit within {timeout}s of a reload")

    def stop(self, timeout: float = 15) -> None:
        if self._process is not None:
            self._process.stop(timeout=timeout)
            self._process = None
