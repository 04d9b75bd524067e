"""The connection health check (``CONN_HEALTH_CHECKS``' ``SELECT 1``) runs when it can find a
dead connection, not before every request: after ``DATABASE_HEALTH_CHECK_IDLE_SECONDS`` idle
or after an error. A request after the database dropped an idle connection still succeeds."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.db import OperationalError, close_old_connections, connection, connections

from core.db.backends.postgresql.base import DatabaseWrapper
from tests.conftest import make_customer
from tests.core.db.conftest import FakeClock, aged_token, token_client

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True)]

IDLE = 5.0
REPLICA = "replica_1"
ME = "/api/v1/auth/me/"


@pytest.fixture
def checks(monkeypatch, settings) -> Iterator[list[str]]:
    """Every health check run, by alias; the connections' clock moves only when told."""
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = IDLE
    calls: list[str] = []
    real = DatabaseWrapper.is_usable

    def counted(self: DatabaseWrapper) -> bool:
        calls.append(self.alias)
        return real(self)

    monkeypatch.setattr(DatabaseWrapper, "is_usable", counted)
    monkeypatch.setattr(DatabaseWrapper, "timer", FakeClock())
    yield calls


class Client:
    """A token client whose requests start and end like under gunicorn: Django's test client
    leaves out ``close_old_connections``, which is where the per-request check is re-armed."""

    def __init__(self, key: str) -> None:
        self.client = token_client(key)

    def get(self, path: str):
        close_old_connections()
        try:
            return self.client.get(path)
        finally:
            close_old_connections()


@pytest.fixture
def client(db) -> Client:
    return Client(aged_token(make_customer()).key)


def test_requests_in_steady_use_run_no_health_check(client, checks):
    # given a persistent connection in use
    assert client.get(ME).status_code == 200
    checks.clear()
    # when 20 requests follow each other
    statuses = [client.get(ME).status_code for _ in range(20)]
    # then none paid a SELECT 1 (before: one each)
    assert statuses == [200] * 20
    assert checks == []


def test_the_first_use_after_the_idle_time_is_checked_once(client, checks):
    assert client.get(ME).status_code == 200
    checks.clear()
    DatabaseWrapper.timer.advance(IDLE)
    assert client.get(ME).status_code == 200
    assert client.get(ME).status_code == 200
    assert checks == ["default"]


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_the_request(
    client, checks, pg_cluster
):
    # given a connection the server closed while it sat idle (restart, idle timeout)
    assert client.get(ME).status_code == 200
    before = connection.connection.info.backend_pid
    _terminate(before, pg_cluster)
    DatabaseWrapper.timer.advance(IDLE)
    # when the next request uses it
    response = client.get(ME)
    # then the check found it dead, a new connection answered
    assert response.status_code == 200
    assert checks == ["default"]
    assert connection.connection.info.backend_pid != before


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_read_on_a_connection_dropped_in_steady_use_still_answers(client, checks, pg_cluster):
    # given reads on the replica (which has replayed the token written just now), whose
    # connection the server drops while in steady use
    pg_cluster.wait_for_replay()
    # (the first request's token is read on the primary, where the pin maps it to its user)
    for _ in range(2):
        assert client.get(ME).status_code == 200
    replica = connections[REPLICA]
    dead = replica.connection.info.backend_pid
    _terminate(dead, pg_cluster, REPLICA)
    # when a request meets the dead connection (no idle time: no check before it)
    first = client.get(ME)
    # then the read fell back to the primary, and the dead connection is not used again
    assert first.status_code == 200
    assert client.get(ME).status_code == 200
    assert replica.connection is None or replica.connection.info.backend_pid != dead


def test_a_connection_that_had_an_error_is_checked_at_its_next_use(client, checks):
    # given a connection in steady use on which a statement failed (a timeout, a cancel)
    assert client.get(ME).status_code == 200
    checks.clear()
    with pytest.raises(OperationalError), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)")
    assert connection.errors_occurred
    # when the next request uses it, it is checked first
    assert client.get(ME).status_code == 200
    assert checks == ["default"]


def _terminate(pid: int, pg_cluster, alias: str = "default") -> None:
    with psycopg.connect(pg_cluster.url(alias), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
