"""deploy/gunicorn.conf.py: gthread workers and the Prometheus multiprocess hooks."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.observability import multiprocess
from tests.core.observability.test_multiprocess import run_worker
from tests.deploy.conftest import DEPLOY, PROJECT_ROOT

CONFIG = DEPLOY / "gunicorn.conf.py"
GUNICORN_VARIABLES = (
    "GUNICORN_BIND",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_MAX_REQUESTS_JITTER",
    "GUNICORN_CONTROL_SOCKET",
)


@pytest.fixture
def load_config(monkeypatch):
    """Read the config file as gunicorn does, in an environment the test controls."""
    for name in (*GUNICORN_VARIABLES, multiprocess.ENV_VAR):
        monkeypatch.setenv(name, "placeholder")  # restored (unset) after the test
        monkeypatch.delenv(name)

    def _load(**env: str) -> dict:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(CONFIG))

    yield _load
    # the directory a config read without PROMETHEUS_MULTIPROC_DIR makes for "this master"
    shutil.rmtree(Path(tempfile.gettempdir()) / f"myhibachi-metrics-{os.getpid()}", True)


class FakeLog:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def info(self, message, *args):
        self.messages.append(message % args)

    def exception(self, message, *args):
        self.messages.append("EXCEPTION " + message % args)


def test_defaults(load_config):
    config = load_config()
    assert config["worker_class"] == "gthread"
    assert config["threads"] == 4
    assert config["workers"] == 3
    assert config["wsgi_app"] == "config.wsgi:application"
    assert config["accesslog"] is None  # the app writes the JSON access line
    assert config["control_socket_disable"] is True
    assert config["max_requests"] > 0 and config["max_requests_jitter"] > 0
    for hook in ("on_starting", "child_exit", "on_exit"):
        assert callable(config[hook])


def test_the_environment_overrides(load_config, tmp_path):
    config = load_config(
        GUNICORN_BIND="127.0.0.1:8001,[::1]:8001",
        WEB_CONCURRENCY="5",
        GUNICORN_THREADS="8",
        GUNICORN_MAX_REQUESTS="100",
        GUNICORN_CONTROL_SOCKET=str(tmp_path / "ctl.sock"),
    )
    assert config["bind"] == ["127.0.0.1:8001", "[::1]:8001"]
    assert (config["workers"], config["threads"], config["max_requests"]) == (5, 8, 100)
    assert config["control_socket"] == str(tmp_path / "ctl.sock")
    assert "control_socket_disable" not in config


def test_the_metrics_directory_is_settled_before_any_worker_starts(load_config, tmp_path):
    # given no PROMETHEUS_MULTIPROC_DIR: one of this master's own, exported to its workers
    config = load_config()
    directory = os.environ[multiprocess.ENV_VAR]
    assert str(os.getpid()) in directory
    assert os.path.isdir(directory)
    config["on_exit"](SimpleNamespace(log=FakeLog()))
    assert not os.path.exists(directory)  # the default directory is removed at exit


def test_a_given_directory_is_used_and_kept(load_config, tmp_path):
    config = load_config(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    assert os.environ[multiprocess.ENV_VAR] == str(tmp_path / "metrics")
    config["on_exit"](SimpleNamespace(log=FakeLog()))
    assert (tmp_path / "metrics").is_dir()


def test_hooks_wipe_on_start_and_retire_dead_workers(load_config, tmp_path):
    metrics_dir = tmp_path / "metrics"
    config = load_config(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    server = SimpleNamespace(log=FakeLog())
    # on_starting empties what a previous run left
    (metrics_dir / "counter_99999.db").write_bytes(b"stale")
    config["on_starting"](server)
    assert list(metrics_dir.glob("*.db")) == []
    # child_exit folds a dead worker's files into the archives
    pid = run_worker(metrics_dir, 3)
    config["child_exit"](server, SimpleNamespace(pid=pid))
    assert not list(metrics_dir.glob(f"*_{pid}.db"))
    assert (metrics_dir / "counter_archive.db").exists()


def test_child_exit_never_raises(load_config, tmp_path, monkeypatch):
    config = load_config(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))

    def broken(pid, path):
        raise OSError("disk full")

    monkeypatch.setattr(multiprocess, "retire_worker", broken)
    server = SimpleNamespace(log=FakeLog())
    config["child_exit"](server, SimpleNamespace(pid=12345))
    assert server.log.messages == ["EXCEPTION could not retire the metrics of worker 12345"]


def test_gunicorn_accepts_the_file(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        multiprocess.ENV_VAR: str(tmp_path / "metrics"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", str(CONFIG)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
