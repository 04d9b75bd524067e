"""`make stack` is one command: `deploy/local/stack up|status|down`, run here on free ports in a
state directory of the test's own, so it runs next to anything else on this machine."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.gunicorn import PROJECT_ROOT
from devstack.processes import make_temp_base_dir, remove_tree
from devstack.topology import pid_alive, read_state
from tests.e2e.http_load import request

pytestmark = pytest.mark.servers

SCRIPT = PROJECT_ROOT / "deploy" / "local" / "stack"


@pytest.fixture
def state_dir() -> Iterator[Path]:
    base = make_temp_base_dir("myhibachi-stack-cli-")
    base.chmod(0o755)  # PostgreSQL (the postgres user, under root) and nginx's workers read it
    try:
        yield base / "stack"
    finally:
        state = read_state(base / "stack") or {}
        if pid_alive(state.get("supervisor_pid")):  # the test failed before `down`
            os.kill(state["supervisor_pid"], signal.SIGTERM)
            deadline = time.monotonic() + 60
            while pid_alive(state["supervisor_pid"]) and time.monotonic() < deadline:
                time.sleep(0.2)
        remove_tree(base)


def stack(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHON": sys.executable},
    )


def test_up_status_and_down(state_dir):
    # when the stack is brought up with one command
    up = stack(state_dir, "up", "--backend-ports", "auto", "--nginx-port", "auto")
    assert up.returncode == 0, up.stdout + up.stderr
    state = read_state(state_dir)
    assert state is not None and state["state"] == "ready"
    # then it printed where everything is
    names = [process["name"] for process in state["processes"]]
    assert names == [
        "nginx",
        "backend1",
        "backend2",
        "backend3",
        "postgres primary",
        "postgres replica_1",
        # PgBouncer in front of each node (issue 18; docs/pooling.md)
        "pgbouncer primary",
        "pgbouncer replica_1",
        "redis",
        # background work (devstack/celery.py)
        "redis-broker",
        "worker",
        "beat",
    ]
    for process in state["processes"]:
        assert process["url"] in up.stdout and process["log"] in up.stdout
    # and the site serves the demo data through nginx
    packages = request(state["site"], "/api/v1/packages/")
    assert packages.status == 200 and len(packages.json()) >= 4
    assert packages.headers["x-upstream"]

    # status: every process up, every /readyz 200 (three backends and nginx)
    status = stack(state_dir, "status")
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("/readyz 200") == 4
    assert status.stdout.count(" up ") == len(names)

    # `up` again changes nothing
    again = stack(state_dir, "up", "--backend-ports", "auto", "--nginx-port", "auto")
    assert again.returncode == 0 and "already running" in again.stdout
    assert read_state(state_dir)["supervisor_pid"] == state["supervisor_pid"]

    # a backend that died shows in status, which then fails
    backend = state["processes"][2]
    os.killpg(backend["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(backend["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    degraded = stack(state_dir, "status")
    assert degraded.returncode == 1
    (line,) = [line for line in degraded.stdout.splitlines() if "backend2" in line]
    assert "DOWN" in line and "no answer" in line

    # down stops every process
    down = stack(state_dir, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    deadline = time.monotonic() + 30
    pids = [state["supervisor_pid"], *(process["pid"] for process in state["processes"])]
    while any(pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if pid_alive(pid)]
    assert stack(state_dir, "status").returncode == 3  # "not running"
    with contextlib.suppress(OSError):
        assert "stack: stopped" in (state_dir / "stack.log").read_text()


def test_up_refuses_a_directory_that_is_not_a_stacks(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = stack(tmp_path, "up", "--backend-ports", "auto", "--nginx-port", "auto")
    assert result.returncode == 2
    assert (tmp_path / "precious.txt").read_text() == "keep me"
