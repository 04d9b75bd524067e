"""Router decisions that need no server: run in both modes, including TEST_DATABASE=sqlite."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS
from django.db.utils import OperationalError, ProgrammingError

from accounts.models import User
from core.db import conf, routing, use_primary
from core.db.failover import CONNECTION_ERROR, RECOVERY_CONFLICT, classify
from core.db.routers import ReplicaRouter


class _Connection:
    """What ``classify`` reads from a Django connection: the raw psycopg connection."""

    connection = None


def _django_error(django_class: type[Exception], cause: Exception) -> Exception:
    error = django_class(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (psycopg.OperationalError("connection refused"), CONNECTION_ERROR),
        (psycopg.errors.AdminShutdown("terminating connection"), CONNECTION_ERROR),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), CONNECTION_ERROR),
        (psycopg.errors.ConnectionFailure("connection failure"), CONNECTION_ERROR),
        (psycopg.errors.SerializationFailure("conflict with recovery"), RECOVERY_CONFLICT),
        (psycopg.errors.QueryCanceled("statement timeout"), None),
    ],
)
def test_replica_errors_worth_a_retry_on_the_primary(cause, expected):
    assert classify(_django_error(OperationalError, cause), _Connection()) == expected


def test_sql_errors_are_not_retried():
    error = _django_error(ProgrammingError, psycopg.errors.UndefinedTable("no such table"))
    assert classify(error, _Connection()) is None


def test_weighted_round_robin_shares_reads_by_weight(settings):
    settings.REPLICA_WEIGHTS = {"replica_1": 3, "replica_2": 1}
    picks = [routing._weighted_round_robin(["replica_1", "replica_2"]) for _ in range(400)]
    assert picks.count("replica_1") == 300
    assert picks.count("replica_2") == 100


def test_a_replica_with_weight_zero_gets_no_reads(settings):
    settings.REPLICA_WEIGHTS = {"replica_2": 0}
    picks = {routing._weighted_round_robin(["replica_1", "replica_2"]) for _ in range(10)}
    assert picks == {"replica_1"}


def test_migrations_run_on_the_primary_only():
    router = ReplicaRouter()
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "accounts") is True
    assert router.allow_migrate("replica_1", "accounts") is False


def test_use_primary_is_per_context_and_nests():
    assert routing.primary_forced() is False
    with use_primary():
        with use_primary():
            assert routing.primary_forced() is True
        assert routing.primary_forced() is True
    assert routing.primary_forced() is False


def test_without_replicas_every_read_uses_the_primary(settings):
    if conf.replica_aliases():
        pytest.skip("replicas are configured in this run")
    assert ReplicaRouter().db_for_read(User) == DEFAULT_DB_ALIAS
