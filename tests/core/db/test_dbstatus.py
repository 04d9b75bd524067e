"""``manage.py dbstatus``: the live picture of the test cluster, and its exit status."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from devstack import free_port

REPLICA = "replica_1"


def _run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("dbstatus", *args, stdout=out)
    return out.getvalue()


@pytest.mark.servers
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_json_shows_roles_lag_connections_and_where_reads_go(pg_cluster):
    # given
    pg_cluster.wait_for_replay()

    # when
    statuses = {row["alias"]: row for row in json.loads(_run("--json"))}

    # then
    primary, replica = statuses[DEFAULT_DB_ALIAS], statuses[REPLICA]
    assert (primary["role"], primary["reachable"], primary["in_recovery"]) == (
        "primary",
        True,
        False,
    )
    assert (replica["role"], replica["reachable"], replica["in_recovery"]) == (
        "replica",
        True,
        True,
    )
    assert replica["state"] == "ok"
    assert replica["lag_seconds"] == 0.0
    assert replica["reads_now"] == "yes"
    assert primary["reads_now"].startswith("pinned")
    assert primary["server_connections"]["max"] == 200
    assert primary["pool"]["mode"] == "persistent"
    assert [r["state"] for r in primary["replication"]] == ["streaming"]
    assert replica["address"].endswith(f":{pg_cluster.replica(1).port}/test_myhibachi")


@pytest.mark.servers
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_table_says_when_the_replica_is_down(pg_cluster):
    # given
    pg_cluster.stop_replica(1)

    # when
    table = _run()

    # then
    lines = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert "down" in lines[REPLICA]
    assert lines[REPLICA].rstrip().endswith("no")
    assert "all (no usable replica)" in lines[DEFAULT_DB_ALIAS]


@pytest.mark.servers
def test_exit_status_is_non_zero_when_the_primary_is_unreachable(pg_cluster):
    # given: the primary alias pointed at a port nothing listens on
    settings_dict = connections[DEFAULT_DB_ALIAS].settings_dict
    real_port = settings_dict["PORT"]
    settings_dict["PORT"] = free_port()
    try:
        # when / then
        with pytest.raises(CommandError) as raised:
            _run("--json")
    finally:
        settings_dict["PORT"] = real_port
    assert raised.value.returncode == 1


@pytest.mark.django_db
def test_runs_on_the_embedded_default_too():
    table = _run()
    assert table.splitlines()[0].startswith("ALIAS")
    assert DEFAULT_DB_ALIAS in table
