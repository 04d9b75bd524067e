"""Find the server binaries: on PATH, or in /usr/lib/postgresql/<version>/bin (newest first)."""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

POSTGRES_TOOLS = ("initdb", "postgres", "pg_basebackup")
POSTGRES_GLOB = "/usr/lib/postgresql/*/bin"
MIN_POSTGRES_MAJOR = 15
INSTALL_HINT = (
    "Install it with `sudo apt-get install postgresql redis-server nginx` "
    "(or run `make system-deps` as root), or set POSTGRES_BIN_DIR / REDIS_SERVER."
)


class MissingBinary(RuntimeError):
    """A server binary is not installed; the message says what to install."""


def _major(bin_dir: Path) -> int:
    match = re.search(r"/(\d+)(?:\.\d+)?/bin/?$", str(bin_dir))
    return int(match.group(1)) if match else 0


def _has_tools(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / tool, os.X_OK) for tool in POSTGRES_TOOLS)


def postgres_bin_dir() -> Path:
    """Return the directory holding initdb, postgres and pg_basebackup of one version.

    Order: ``$POSTGRES_BIN_DIR``; the directory of ``initdb`` found on PATH (symlinks resolved,
    so Debian's /usr/local/bin links lead to /usr/lib/postgresql/N/bin); the newest
    ``/usr/lib/postgresql/*/bin``. Tools from one directory are one version, which
    pg_basebackup and the server require.
    """
    candidates: list[Path] = []
    if configured := os.environ.get("POSTGRES_BIN_DIR"):
        candidates.append(Path(configured))
    if on_path := shutil.which("initdb"):
        candidates.append(Path(on_path).resolve().parent)
    candidates.extend(sorted((Path(p) for p in glob.glob(POSTGRES_GLOB)), key=_major, reverse=True))
    for bin_dir in candidates:
        if _has_tools(bin_dir):
            major = _major(bin_dir)
            if major and major < MIN_POSTGRES_MAJOR:
                continue
            return bin_dir
    raise MissingBinary(
        f"PostgreSQL {MIN_POSTGRES_MAJOR}+ server binaries ({', '.join(POSTGRES_TOOLS)}) were "
        f"not found on PATH or in {POSTGRES_GLOB}. {INSTALL_HINT}"
    )


def redis_server_binary() -> Path:
    """Return the redis-server executable: ``$REDIS_SERVER``, PATH, or /usr/bin, /usr/sbin."""
    configured = os.environ.get("REDIS_SERVER")
    found = configured or shutil.which("redis-server")
    if not found:
        for candidate in ("/usr/bin/redis-server", "/usr/sbin/redis-server"):
            if os.access(candidate, os.X_OK):
                found = candidate
                break
    if not found or not os.access(found, os.X_OK):
        raise MissingBinary(f"redis-server was not found. {INSTALL_HINT}")
    return Path(found)


def redis_sentinel_binary() -> Path:
    """Return the redis-sentinel executable: ``$REDIS_SENTINEL``, PATH, or /usr/bin (Debian's
    ``redis-sentinel`` package: a link that redis-server's code runs in sentinel mode)."""
    configured = os.environ.get("REDIS_SENTINEL")
    found = configured or shutil.which("redis-sentinel")
    if not found and os.access("/usr/bin/redis-sentinel", os.X_OK):
        found = "/usr/bin/redis-sentinel"
    if not found or not os.access(found, os.X_OK):
        raise MissingBinary(f"redis-sentinel was not found. {INSTALL_HINT}")
    return Path(found)
