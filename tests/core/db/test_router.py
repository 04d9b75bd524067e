"""The replica router against real streaming replication (primary + hot standby)."""

from __future__ import annotations

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction

from accounts.models import User
from core.db import metrics, routing_scope, use_primary
from core.db.routers import ReplicaRouter
from tests.conftest import make_customer

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True, databases="__all__")]

REPLICA = "replica_1"


def test_replica_alias_is_a_separate_connection_to_the_standby(pg_cluster):
    # when
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_database(), inet_server_port()")
        replica_row = cursor.fetchone()
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_database(), inet_server_port()")
        primary_row = cursor.fetchone()

    # then: the standby, reading the test database that replication brought over
    assert replica_row == (True, primary_row[1], pg_cluster.replica(1).port)
    assert primary_row == (False, primary_row[1], pg_cluster.primary.port)
    assert primary_row[1].startswith("test_")


def test_reads_go_to_the_replica_and_writes_to_the_primary(pg_cluster, counters):
    # given
    customer = make_customer()
    pg_cluster.wait_for_replay()

    # when
    read_from = User.objects.filter(pk=customer.pk).db
    found = User.objects.get(pk=customer.pk)

    # then
    assert read_from == REPLICA
    assert found._state.db == REPLICA
    assert router.db_for_write(User) == DEFAULT_DB_ALIAS
    assert counters(metrics.READS, REPLICA) >= 2


def test_a_replica_really_serves_reads_its_replay_position_allows(pg_cluster):
    # given: replay paused, then a write on the primary
    pg_cluster.wait_for_replay()
    pg_cluster.pause_replay(1)
    customer = make_customer()

    # when: a plain read, outside any request or transaction
    exists_on_replica = User.objects.filter(pk=customer.pk).exists()

    # then: the standby does not have it yet (proof the replica, not a mirror, answered)
    assert exists_on_replica is False
    assert User.objects.using(DEFAULT_DB_ALIAS).filter(pk=customer.pk).exists()


def test_reads_inside_atomic_go_to_the_primary(pg_cluster, counters):
    # given
    pg_cluster.pause_replay(1)

    # when: create, then read it back in the same transaction
    with transaction.atomic():
        created = make_customer()
        found = User.objects.get(email=created.email)
        read_from = User.objects.all().db

    # then: no "does not exist" although the replica cannot have the row
    assert found.pk == created.pk
    assert read_from == DEFAULT_DB_ALIAS
    assert counters(metrics.PINNED_READS, "atomic") >= 2


def test_select_for_update_goes_to_the_primary(pg_cluster):
    customer = make_customer()
    with transaction.atomic():
        locked = User.objects.select_for_update().filter(pk=customer.pk)
        assert locked.db == DEFAULT_DB_ALIAS
        assert [user.pk for user in locked] == [customer.pk]


def test_after_the_first_write_in_a_scope_reads_use_the_primary(pg_cluster, counters):
    # given
    pg_cluster.wait_for_replay()
    pg_cluster.pause_replay(1)

    # when: a task writes, then reads
    with routing_scope():
        assert User.objects.all().db == REPLICA
        created = make_customer()
        found = User.objects.filter(pk=created.pk).exists()

    # then: the task read its write; another scope still reads the (stale) replica
    assert found is True
    assert counters(metrics.PINNED_READS, "request_write") >= 1
    with routing_scope():
        assert User.objects.filter(pk=created.pk).exists() is False


def test_use_primary_as_context_manager_and_decorator(pg_cluster, counters):
    # given
    pg_cluster.pause_replay(1)
    created = make_customer()

    @use_primary()
    def decorated_read() -> bool:
        return User.objects.filter(pk=created.pk).exists()

    # when
    with use_primary():
        in_block = User.objects.filter(pk=created.pk).exists()
        with use_primary():
            nested = User.objects.all().db
        still_forced = User.objects.all().db
    after = User.objects.all().db

    # then
    assert in_block is True
    assert decorated_read() is True
    assert (nested, still_forced, after) == (DEFAULT_DB_ALIAS, DEFAULT_DB_ALIAS, REPLICA)
    assert counters(metrics.PINNED_READS, "use_primary") >= 4


def test_replica_reads_can_be_switched_off(settings, pg_cluster):
    settings.REPLICA_READS_ENABLED = False
    assert User.objects.all().db == DEFAULT_DB_ALIAS


def test_primary_only_models_read_the_primary(settings, pg_cluster, counters):
    settings.REPLICA_PRIMARY_MODELS = ["accounts.User"]
    assert User.objects.all().db == DEFAULT_DB_ALIAS
    assert counters(metrics.PINNED_READS, "primary_model") == 1


def test_objects_from_primary_and_replica_may_be_related(pg_cluster):
    # given: one user loaded from each alias
    first = make_customer(email="first@example.com")
    second = make_customer(email="second@example.com")
    pg_cluster.wait_for_replay()
    from_replica = User.objects.get(pk=first.pk)
    with use_primary():
        from_primary = User.objects.get(pk=second.pk)

    # then
    assert (from_replica._state.db, from_primary._state.db) == (REPLICA, DEFAULT_DB_ALIAS)
    assert router.allow_relation(from_replica, from_primary) is True


def test_migrations_run_on_the_primary_only():
    replica_router = ReplicaRouter()
    assert replica_router.allow_migrate(DEFAULT_DB_ALIAS, "accounts") is True
    assert replica_router.allow_migrate(REPLICA, "accounts") is False
