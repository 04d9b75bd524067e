"""The throwaway servers themselves: replication, replay control, restarts, cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from devstack import RedisServer
from devstack.binaries import postgres_bin_dir

pytestmark = pytest.mark.servers

SCRATCH_DB = "postgres"  # the Django test database is not touched by these tests


@pytest.fixture
def scratch_table(pg_cluster):
    pg_cluster.primary.query("CREATE TABLE IF NOT EXISTS harness_t (x int)", dbname=SCRATCH_DB)
    pg_cluster.primary.query("TRUNCATE harness_t", dbname=SCRATCH_DB)
    pg_cluster.wait_for_replay()
    yield "harness_t"
    pg_cluster.heal()
    pg_cluster.primary.query("DROP TABLE harness_t", dbname=SCRATCH_DB)


def _count(server) -> int:
    return server.query("SELECT count(*) FROM harness_t", dbname=SCRATCH_DB)[0][0]


def test_primary_and_hot_standby_on_their_own_loopback_ports(pg_cluster):
    primary, replica = pg_cluster.primary, pg_cluster.replica(1)
    assert primary.query("SELECT pg_is_in_recovery()") == [(False,)]
    assert replica.query("SELECT pg_is_in_recovery()") == [(True,)]
    assert primary.port != replica.port
    assert pg_cluster.url("default") == f"postgres://postgres@127.0.0.1:{primary.port}/myhibachi"
    assert pg_cluster.url("replica_1").endswith(f":{replica.port}/myhibachi")
    assert pg_cluster.env()["DATABASE_REPLICA_URLS"] == pg_cluster.url("replica_1")
    settings = dict(
        primary.query(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'wal_level', 'hot_standby')"
        )
    )
    assert settings == {"fsync": "off", "wal_level": "replica", "hot_standby": "on"}


def test_writes_on_the_primary_reach_the_standby(pg_cluster, scratch_table):
    pg_cluster.primary.query("INSERT INTO harness_t VALUES (1)", dbname=SCRATCH_DB)
    pg_cluster.wait_for_replay()
    assert _count(pg_cluster.replica(1)) == 1


def test_paused_replay_holds_the_standby_back_until_resumed(pg_cluster, scratch_table):
    # when
    pg_cluster.pause_replay(1)
    pg_cluster.primary.query("INSERT INTO harness_t VALUES (1)", dbname=SCRATCH_DB)

    # then
    assert _count(pg_cluster.replica(1)) == 0
    with pytest.raises(TimeoutError):
        pg_cluster.wait_for_replay(1, timeout=0.3)
    pg_cluster.resume_replay(1)
    pg_cluster.wait_for_replay(1)
    assert _count(pg_cluster.replica(1)) == 1


def test_stopped_standby_refuses_connections_and_catches_up_after_start(pg_cluster, scratch_table):
    # when
    pg_cluster.stop_replica(1)
    pg_cluster.primary.query("INSERT INTO harness_t VALUES (1)", dbname=SCRATCH_DB)

    # then
    with pytest.raises(psycopg.OperationalError):
        pg_cluster.replica(1).connect(connect_timeout=1)
    assert pg_cluster.touched
    pg_cluster.start_replica(1)
    pg_cluster.wait_for_replay(1)
    assert _count(pg_cluster.replica(1)) == 1
    assert not pg_cluster.touched


def test_restarted_primary_keeps_its_port_and_the_standby_follows(pg_cluster, scratch_table):
    port = pg_cluster.primary.port

    pg_cluster.restart_primary()
    pg_cluster.primary.query("INSERT INTO harness_t VALUES (1)", dbname=SCRATCH_DB)

    assert pg_cluster.primary.port == port
    pg_cluster.wait_for_replay(timeout=20)
    assert _count(pg_cluster.replica(1)) == 1


def test_redis_server_stops_and_starts_on_the_same_port_empty():
    with RedisServer() as server:
        client = server.client()
        client.set("k", "v")
        url = server.url
        base_dir = server.base_dir

        server.stop()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        server.start()

        assert server.url == url
        assert server.client().get("k") is None
    assert not base_dir.exists()


def test_binaries_are_one_postgres_version():
    bin_dir = postgres_bin_dir()
    assert all((bin_dir / tool).exists() for tool in ("initdb", "postgres", "pg_basebackup"))


def test_command_line_prints_the_environment_and_cleans_up_on_interrupt():
    # given
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--replicas", "0", "--no-redis"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        url = line.strip().removeprefix("export DATABASE_URL=")
        with psycopg.connect(url, connect_timeout=5) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("myhibachi",)

        # when
        process.send_signal(signal.SIGINT)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()

    # then
    assert line.startswith("export DATABASE_URL=postgres://")
    assert process.returncode == 0
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=1)
