"""Finding the server binaries, and saying what to install when they are missing."""

from __future__ import annotations

import pytest

from devstack import binaries
from devstack.binaries import MissingBinary
from devstack.processes import free_port


def test_missing_postgres_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("POSTGRES_BIN_DIR", raising=False)
    monkeypatch.setattr(binaries, "POSTGRES_GLOB", str(tmp_path / "nothing" / "*" / "bin"))

    with pytest.raises(MissingBinary, match="apt-get install postgresql"):
        binaries.postgres_bin_dir()


def test_newest_version_directory_wins(monkeypatch, tmp_path):
    for version in ("15", "16", "9"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for tool in binaries.POSTGRES_TOOLS:
            (bin_dir / tool).write_text("#!/bin/sh\n")
            (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("POSTGRES_BIN_DIR", raising=False)
    monkeypatch.setattr(binaries, "POSTGRES_GLOB", str(tmp_path / "*" / "bin"))

    assert binaries.postgres_bin_dir() == tmp_path / "16" / "bin"


def test_missing_redis_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("REDIS_SERVER", str(tmp_path / "no-such-redis"))
    with pytest.raises(MissingBinary, match="redis-server"):
        binaries.redis_server_binary()


def test_free_port_is_a_loopback_port():
    assert 1024 < free_port() < 65536
