"""promtool for the rule and config checks; the deploy files' locations."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT_ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"


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
