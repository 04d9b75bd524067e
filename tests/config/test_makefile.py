"""`make run` tells the app the address it serves at, so links in emails lead back to it."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_command(*args: str, **env: str) -> str:
    """The runserver line `make run` would execute (``make -n`` prints, runs nothing)."""
    base = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "HOST", "PORT"}}
    result = subprocess.run(
        ["make", "-n", "run", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [line] = [line for line in result.stdout.splitlines() if "runserver" in line]
    return line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "SITE_URL='http://127.0.0.1:8000'"),
        (("HOST=192.168.1.20", "PORT=9000"), "SITE_URL='http://192.168.1.20:9000'"),
        (("HOST=0.0.0.0", "PORT=8080"), "SITE_URL='http://localhost:8080'"),
    ],
)
def test_site_url_follows_host_and_port(args, expected):
    assert run_command(*args).startswith(expected)


def test_an_explicit_site_url_wins():
    line = run_command("PORT=9000", SITE_URL="https://book.myhibachi.example")
    assert line.startswith("SITE_URL='https://book.myhibachi.example'")
