"""promtool for the rule and config checks; the deploy files' locations."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from core.observability import multiprocess

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT_ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
GUNICORN_CONFIG = DEPLOY / "gunicorn.conf.py"
GUNICORN_VARIABLES = (
    "GUNICORN_BIND",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_MAX_REQUESTS_JITTER",
    "GUNICORN_CONTROL_SOCKET",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_WORKER_TMP_DIR",
    "GUNICORN_FORWARDED_ALLOW_IPS",
    "GUNICORN_ACCESS_LOG",
    "TRUSTED_PROXIES",
)


@pytest.fixture(scope="session")
def promtool() -> str:
    """The promtool binary. Missing: skipped only when we could not install it (not root)."""
    path = shutil.which("promtool")
    if path:
        return path
    if os.geteuid() != 0:
        pytest.skip(
            "promtool is not installed and we are not root to install it: "
            "`sudo apt-get install prometheus` (or `make system-deps` as root)"
        )
    pytest.fail(
        "promtool is not installed: run `make system-deps` (installs Debian's prometheus "
        "package, deploy/local/install-system-deps.sh)"
    )


def run_promtool(promtool: str, *args: str, cwd: Path = PROMETHEUS) -> str:
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture
def load_config(monkeypatch):
    """Read the config file as gunicorn does, in an environment the test controls."""
    for name in (*GUNICORN_VARIABLES, multiprocess.ENV_VAR):
        monkeypatch.setenv(name, "placeholder")  # restored (unset) after the test
        monkeypatch.delenv(name)

    def _load(**env: str) -> dict:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(GUNICORN_CONFIG))

    yield _load
    # the directory a config read without PROMETHEUS_MULTIPROC_DIR makes for "this master"
    shutil.rmtree(Path(tempfile.gettempdir()) / f"myhibachi-metrics-{os.getpid()}", True)
