"""Facts about the machine and the software a report was measured with."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from devstack.binaries import postgres_bin_dir, redis_server_binary
from devstack.nginx import nginx_binary

PACKAGES = ("Django", "djangorestframework", "gunicorn", "psycopg", "redis", "django-redis")


def _first_line(argv: list[str]) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - fixed tool names, resolved paths
            argv, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else None


def _cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or None
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def _memory_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 1024 / 1024, 1) if match else None


def _safe(call: Any) -> str | None:
    try:
        return call()
    except Exception:  # a missing tool leaves its fact out, it does not stop the report
        return None


def machine_facts() -> dict[str, Any]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu_model": _cpu_model(),
        "cpus_online": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "nginx": _safe(lambda: _first_line([str(nginx_binary()), "-v"])),
        "postgresql": _safe(lambda: _first_line([str(postgres_bin_dir() / "postgres"), "-V"])),
        "redis": _safe(lambda: _first_line([str(redis_server_binary()), "--version"])),
        "wrk": _safe(lambda: _first_line([shutil.which("wrk") or "wrk", "-v"])),
        "load_average": list(os.getloadavg()),
    }
