"""The operator's failover commands (devstack/failover.py) on a cluster of their own:
fencing, promotion with synchronous replication, the conscious downgrade to asynchronous
commits, and the old primary's rejoin with pg_rewind; and an app connection string in libpq's
multi-host form (core/db/urls.py) following the promotion, through Django's own backend."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from django.db.backends.postgresql.base import DatabaseWrapper

from core.db.urls import database_config
from devstack import PostgresCluster
from devstack.failover import FailoverError, Node, fence
from devstack.processes import free_port

pytestmark = pytest.mark.servers
DB = "myhibachi"


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with PostgresCluster(replicas=1, synchronous=True) as fresh:
        fresh.primary.query("CREATE TABLE booking (id int PRIMARY KEY)", dbname=DB)
        yield fresh


def _connect_like_django(url: str) -> psycopg.Connection:
    """Open a connection the way Django's PostgreSQL backend does for ``url``."""
    settings_dict = {
        **database_config(url, conn_max_age=0),
        "ATOMIC_REQUESTS": False, "AUTOCOMMIT": True, "TIME_ZONE": None, "TEST": {},
    }  # fmt: skip
    wrapper = DatabaseWrapper(settings_dict, alias="failover_test")
    return wrapper.get_new_connection(wrapper.get_connection_params())


def test_promotion_keeps_every_synchronous_commit_and_the_app_url_follows(cluster):
    # given acknowledged commits under synchronous replication, and the app's multi-host URL
    old_primary, standby = cluster.primary, cluster.replica(1)
    url = cluster.failover_env()["DATABASE_URL"]
    for key in range(200):
        cluster.primary.query("INSERT INTO booking VALUES (%s)", [key], dbname=DB)
    with _connect_like_django(url) as before:
        assert before.info.port == old_primary.port
    # when the primary dies (SIGKILL) and the operator promotes the standby
    old_primary._process.kill_group(signal.SIGKILL)
    cluster.promote(1)
    # then the standby is the primary and holds every acknowledged commit
    assert cluster.primary is standby
    assert standby.query("SELECT pg_is_in_recovery()") == [(False,)]
    assert standby.query("SELECT count(*) FROM booking", dbname=DB) == [(200,)]
    # and the same URL, unchanged, now connects to it and writes
    with _connect_like_django(url) as after:
        assert after.info.port == standby.port
        after.execute("INSERT INTO booking VALUES (1000)")
    # with no standby left, commits were switched to asynchronous (else every write would wait)
    assert standby.query("SHOW synchronous_standby_names") == [("",)]


def test_rejoin_makes_the_old_primary_a_synchronous_standby_again(cluster):
    # given a promotion after the primary was killed
    old_primary = cluster.primary
    old_primary._process.kill_group(signal.SIGKILL)
    cluster.promote(1)
    cluster.primary.query("INSERT INTO booking VALUES (1)", dbname=DB)
    # when the operator rejoins the old primary
    cluster.rejoin(1)
    # then it is a standby of the new primary, streaming synchronously, with the new writes
    assert old_primary.query("SELECT pg_is_in_recovery()") == [(True,)]
    assert cluster.primary.query("SELECT sync_state FROM pg_stat_replication") == [("sync",)]
    assert cluster.primary.query("SHOW synchronous_standby_names") == [("*",)]
    # nor does the rejoined node keep the downgrade pg_rewind copied from the new primary
    downgrades = (
        "SELECT count(*) FROM pg_file_settings WHERE name = 'synchronous_standby_names' "
        "AND sourcefile LIKE '%%auto.conf'"
    )
    assert old_primary.query(downgrades) == [(0,)]
    cluster.primary.query("INSERT INTO booking VALUES (2)", dbname=DB)  # does not block
    cluster.wait_for_replay(1)
    assert old_primary.query("SELECT count(*) FROM booking", dbname=DB) == [(2,)]
    # and the replicas' URL (prefer-standby) reads from it again
    replica_url = cluster.failover_env()["DATABASE_REPLICA_URLS"]
    with _connect_like_django(replica_url) as reader:
        assert reader.info.port == old_primary.port


def test_fencing_refuses_while_the_old_primary_still_answers(cluster, tmp_path):
    # given a primary that answers but is not ours to stop (no data directory here)
    live = Node(tmp_path, cluster.primary.port)
    # when the operator tries to promote the standby, then it refuses before promoting
    with pytest.raises(FailoverError, match="still answers"):
        fence(live)
    from devstack.failover import promote

    standby = cluster.replica(1)
    with pytest.raises(FailoverError, match="still answers"):
        promote(Node(standby.data_dir, standby.port), live, log=lambda line: None)
    assert standby.query("SELECT pg_is_in_recovery()") == [(True,)]


def test_the_command_line_refuses_a_primary_as_the_standby(cluster):
    primary = cluster.primary
    result = subprocess.run(
        [sys.executable, "-m", "devstack.failover", "promote",
         "--standby", f"{primary.data_dir}:{primary.port}",
         "--old-primary", f"/nonexistent:{free_port()}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "is not a standby" in result.stderr
