"""A standby that goes away costs no failed read; reads return when it is back."""

from __future__ import annotations

import time

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

from accounts.models import User
from core.db import metrics
from core.db.health import DOWN, OK, registry
from core.db.routing import read_alias
from tests.conftest import make_customer
from tests.core.db.conftest import aged_token, token_client

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True, databases="__all__")]

REPLICA = "replica_1"
READS = 500
STOP_AT = 100


def test_standby_stopped_during_500_api_reads_fails_none(pg_cluster, clock, counters):
    # given: a customer whose app has held its token for a while (not pinned)
    customer = make_customer()
    client = token_client(aged_token(customer).key)
    pg_cluster.wait_for_replay()

    # when: the standby stops in the middle of the reads
    statuses = []
    for index in range(READS):
        if index == STOP_AT:
            pg_cluster.stop_replica(1)
        statuses.append(client.get("/api/v1/auth/me/").status_code)

    # then: every read answered, served by the primary once the replica went away
    assert statuses.count(200) == READS
    assert counters(metrics.READS, REPLICA) >= STOP_AT
    assert counters(metrics.FALLBACKS, "connection_error") >= 1
    assert registry.cached(REPLICA).state == DOWN

    # when: the standby is back and the check interval has passed
    pg_cluster.start_replica(1)
    pg_cluster.wait_for_replay()
    clock.advance(60)
    counters.reset()
    response = client.get("/api/v1/auth/me/")

    # then: reads return to it
    assert response.status_code == 200
    assert registry.cached(REPLICA).state == OK
    assert counters(metrics.READS, REPLICA) >= 1


def test_query_on_a_dropped_replica_connection_is_retried_on_the_primary(pg_cluster, counters):
    # given: an open replica connection and a healthy verdict
    customer = make_customer()
    pg_cluster.wait_for_replay()
    assert User.objects.get(pk=customer.pk)._state.db == REPLICA
    assert connections[REPLICA].connection is not None

    # when: the standby shuts down under that connection
    pg_cluster.stop_replica(1)
    found = User.objects.get(pk=customer.pk)

    # then: the same query answered from the primary; the replica is skipped from now on
    assert found.pk == customer.pk
    assert counters(metrics.FALLBACKS, "connection_error") == 1
    assert registry.cached(REPLICA).state == DOWN
    assert read_alias(User) == DEFAULT_DB_ALIAS


def test_iterator_on_a_dropped_replica_connection_is_retried_on_the_primary(pg_cluster):
    # given: server-side cursors (QuerySet.iterator) on an open replica connection
    make_customer(email="one@example.com")
    make_customer(email="two@example.com")
    pg_cluster.wait_for_replay()
    assert User.objects.count() == 2

    # when
    pg_cluster.stop_replica(1)
    emails = sorted(user.email for user in User.objects.iterator(chunk_size=1))

    # then
    assert emails == ["one@example.com", "two@example.com"]


def test_replica_down_from_the_start_of_a_request(pg_cluster, counters):
    # given: no open replica connection, and the standby already stopped
    customer = make_customer()
    pg_cluster.wait_for_replay()
    connections[REPLICA].close()
    pg_cluster.stop_replica(1)

    # when
    deadline = time.monotonic() + 10
    found = User.objects.filter(pk=customer.pk).exists()

    # then
    assert found is True
    assert time.monotonic() < deadline  # a bound against hangs, not a timing claim
    assert (
        counters(metrics.FALLBACKS, "connection_error")
        + counters(metrics.FALLBACKS, "replica_down")
        >= 1
    )
