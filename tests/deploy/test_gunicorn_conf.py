"""deploy/gunicorn.conf.py: gthread workers sized from the CPUs, recycling, timeouts, graceful
shutdown, heartbeats on tmpfs, strict forwarded_allow_ips, a JSON access log, and the
Prometheus multiprocess hooks."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from types import SimpleNamespace

import pytest
from gunicorn.workers.gthread import ThreadWorker

from core.observability import multiprocess
from deploy.gunicorn_worker import ThreadWorkerClosingListeners
from devstack.gunicorn import GunicornServer
from tests.core.observability.test_multiprocess import run_worker
from tests.deploy.conftest import DEPLOY, PROJECT_ROOT

CONFIG = DEPLOY / "gunicorn.conf.py"


class FakeLog:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def info(self, message, *args):
        self.messages.append(message % args)

    def exception(self, message, *args):
        self.messages.append("EXCEPTION " + message % args)


def test_defaults(load_config):
    config = load_config()
    # gthread, closing its listening sockets as soon as it stops accepting
    worker_class = config["worker_class"]
    assert worker_class == "deploy.gunicorn_worker.ThreadWorkerClosingListeners"
    assert issubclass(ThreadWorkerClosingListeners, ThreadWorker)
    assert config["preload_app"] is True
    assert config["threads"] == 4
    # gunicorn's rule of thumb, on the CPUs this process may actually use
    assert config["workers"] == 2 * config["available_cpus"]() + 1
    assert config["wsgi_app"] == "config.wsgi:application"
    assert config["accesslog"] is None  # the app writes the JSON access line
    assert config["control_socket_disable"] is True
    assert config["max_requests"] > 0 and config["max_requests_jitter"] > 0
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == (30, 30, 5)
    # heartbeats on a tmpfs, where this machine has one
    if os.access("/dev/shm", os.W_OK):
        assert config["worker_tmp_dir"] == "/dev/shm"
    # only loopback (nginx on the same machine) may set X-Forwarded-Proto
    assert config["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert config["logger_class"].__name__ == "JsonAccessLogger"
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


def test_timeouts_and_paths_from_the_environment(load_config, tmp_path):
    config = load_config(
        GUNICORN_TIMEOUT="60",
        GUNICORN_GRACEFUL_TIMEOUT="25",
        GUNICORN_KEEPALIVE="7",
        GUNICORN_WORKER_TMP_DIR=str(tmp_path),
        GUNICORN_ACCESS_LOG="-",
    )
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == (60, 25, 7)
    assert config["worker_tmp_dir"] == str(tmp_path)
    assert config["accesslog"] == "-"


def test_forwarded_allow_ips_follow_the_apps_trusted_proxies_and_never_everyone(load_config):
    assert load_config(TRUSTED_PROXIES="10.0.0.0/8")["forwarded_allow_ips"] == "10.0.0.0/8"
    config = load_config(GUNICORN_FORWARDED_ALLOW_IPS="172.28.0.10")
    assert config["forwarded_allow_ips"] == "172.28.0.10"
    with pytest.raises(RuntimeError, match="trusts every client"):
        load_config(GUNICORN_FORWARDED_ALLOW_IPS="*")


@pytest.mark.parametrize(
    ("files", "affinity", "expected"),
    [
        ({}, 8, 8),  # no quota: every CPU of the affinity mask
        ({"cpu.max": "max 100000\n"}, 8, 8),
        ({"cpu.max": "50000 100000\n"}, 8, 1),  # Kubernetes' 500m limit: one CPU, not 8
        ({"cpu.max": "250000 100000\n"}, 8, 3),  # 2.5 CPUs round up
        ({"cpu.max": "400000 100000\n"}, 2, 2),  # the affinity mask is smaller
        ({"cpu/cpu.cfs_quota_us": "150000", "cpu/cpu.cfs_period_us": "100000"}, 8, 2),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, 4, 4),
    ],
)
def test_workers_count_the_cpus_the_container_may_use(
    load_config, tmp_path, monkeypatch, files, affinity, expected
):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(affinity)))
    config = load_config()
    assert config["available_cpus"](tmp_path) == expected


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


def sqlite_gunicorn(tmp_path, *, workers: int = 1, threads: int = 2, **env: str) -> GunicornServer:
    """``workers`` of our config serving the app on SQLite (not started)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE": "sqlite",
        multiprocess.ENV_VAR: str(tmp_path / "metrics"),
        **env,
    }
    return GunicornServer(env=env, workers=workers, threads=threads, config=CONFIG)


def test_gunicorns_access_log_is_one_json_object_per_line(tmp_path):
    # given a real gunicorn with its access log switched on
    server = sqlite_gunicorn(tmp_path, GUNICORN_ACCESS_LOG="-")
    try:
        server.start()
        # when a request with an id and an awkward user agent is served
        request = urllib.request.Request(
            f"{server.url}/healthz?probe=1",
            headers={"X-Request-ID": "req-42", "User-Agent": 'agent "quoted" \\ back'},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        deadline = time.monotonic() + 10
        while '"req-42"' not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log()
    finally:
        server.cleanup()
    # then gunicorn wrote one parseable JSON line for it
    lines = [json.loads(line) for line in log.splitlines() if '"gunicorn.access"' in line]
    (record,) = [line for line in lines if line["request_id"] == "req-42"]
    assert record["status"] == 200 and record["path"] == "/healthz"
    assert record["query"] == "probe=1"
    assert record["user_agent"] == 'agent "quoted" \\ back'
    assert record["duration_ms"] >= 0


def test_a_stopping_backend_refuses_new_connections_while_it_finishes(tmp_path):
    # given: a real gunicorn with our config, and a client holding a kept-alive connection
    server = sqlite_gunicorn(tmp_path)
    try:
        server.start()
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        kept = http.client.HTTPConnection(host, int(port), timeout=10)
        kept.request("GET", "/healthz")
        assert kept.getresponse().read()  # the worker now keeps this connection alive

        # when: it is told to stop (SIGTERM), and lingers for the kept-alive connection
        server.terminate()
        time.sleep(0.5)
        assert server.running, "the worker should still be finishing"

        # then: a new connection is refused at once (nginx tries another backend, POSTs too),
        # not accepted into a backlog nobody serves and reset when the worker exits
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=5).close()
    finally:
        server.cleanup()
