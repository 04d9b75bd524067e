"""While the primary is down, reads go to a replica that replayed everything it received; writes
fail with a clean 503; a replica behind what it received is never used; all returns to normal
once the primary is back.

Every client sends a token and keeps no cookies, like the mobile app.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test import override_settings

from accounts.models import User
from bookings import selectors
from core.db import metrics, routing
from core.db.failover import _plain_select
from core.db.health import LAGGING, OK, ReplicaHealth, primary_status, registry
from core.db.routing import use_primary
from tests.conftest import make_customer
from tests.core.db.conftest import aged_token, token_client

pytestmark = [
    pytest.mark.servers,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.urls("tests.core.db.urls"),
]

REPLICA = "replica_1"
PROBE = "/test/replica-probe/"


@pytest.fixture
def outage(pg_cluster) -> Iterator[None]:
    """Stops the primary (``pg_ctl stop -m fast``, like a restart) and starts it again after."""
    yield
    pg_cluster.heal()


def test_a_pinned_client_reads_its_writes_through_the_outage_and_writes_get_503(
    pg_cluster, outage, clock, counters
):
    # given: a customer who just wrote (pinned to the primary); the replica has it
    client = token_client(aged_token(make_customer()).key)
    pg_cluster.wait_for_replay()  # an old token is on the replica (DRF may read it there)
    assert client.post(PROBE, {"name": "Renamed"}, format="json").status_code == 204
    pg_cluster.wait_for_replay()
    counters.reset()

    # when: the primary stops and the pinned customer reads
    pg_cluster.primary.stop("fast")
    reads = [client.get(PROBE) for _ in range(10)]

    # then: every read answered from the replica, with the customer's own write in it
    assert [r.status_code for r in reads] == [200] * 10
    assert {r.json()["name"] for r in reads} == {"Renamed"}
    assert counters(metrics.PINNED_READS, "client_user") >= 10
    assert counters(metrics.FALLBACKS, "primary_down") >= 10
    # the first read may find the outage on its open connection (the test client skips
    # Django's request-start health check): retried on the replica; the others go there at once
    assert counters(metrics.READS, "default") <= 1
    assert primary_status.down()

    # when: the customer writes
    write = client.post(PROBE, {"name": "Lost?"}, format="json")

    # then: a clean 503 the client can retry, and nothing written
    assert write.status_code == 503, write.content
    assert write.json()["code"] == "database_unavailable"
    assert write["Retry-After"]

    # when: the primary is back and one check interval has passed
    pg_cluster.heal()
    clock.advance(60)
    counters.reset()
    write = client.post(PROBE, {"name": "Again"}, format="json")
    read = client.get(PROBE)

    # then: writes work, and the pinned client reads the primary again
    assert write.status_code == 204
    assert read.json()["name"] == "Again"
    assert counters(metrics.READS, "default") >= 1
    assert not primary_status.marked_down()


def test_a_select_on_a_dropped_primary_connection_is_retried_on_the_replica(
    pg_cluster, outage, counters
):
    # given: an open connection to the primary and a caught-up replica
    customer = make_customer()
    pg_cluster.wait_for_replay()
    with use_primary():
        assert User.objects.get(pk=customer.pk).email == customer.email

        # when: the primary shuts down under that connection
        pg_cluster.primary.stop("fast")
        found = User.objects.get(pk=customer.pk)

    # then: the same query answered from the replica; the primary is marked down
    assert found.email == customer.email
    assert counters(metrics.FALLBACKS, "primary_down") == 1
    assert primary_status.down()
    # writes and transactions are not retried anywhere: they fail, and the API answers 503
    with pytest.raises(OperationalError):
        User.objects.filter(pk=customer.pk).update(name="Nobody")
    with pytest.raises(OperationalError), transaction.atomic():
        User.objects.get(pk=customer.pk)


@override_settings(REPLICA_MAX_LAG_SECONDS=0)
def test_a_disconnected_replica_that_replayed_all_it_received_serves_the_outage(pg_cluster, outage):
    # given: a lag budget every replay age exceeds, so the disconnected standby is "lagging"
    client = token_client(aged_token(make_customer()).key)
    pg_cluster.wait_for_replay()

    # when: the primary stops
    pg_cluster.primary.stop("fast")
    response = client.get(PROBE)

    # then: the standby, which replayed everything it received, answers
    assert response.status_code == 200
    health = registry.refresh(REPLICA)
    assert health.state == LAGGING and health.replayed_all
    assert health.serves_primary_outage


def test_a_replica_behind_what_it_received_is_never_used_for_the_outage(
    pg_cluster, outage, counters
):
    # given: the standby received a write it has not replayed (replay paused)
    client = token_client(aged_token(make_customer()).key)
    pg_cluster.wait_for_replay()
    pg_cluster.pause_replay(1)
    assert client.post(PROBE, {"name": "Unreplayed"}, format="json").status_code == 204
    pg_cluster.wait_for_receive(1)

    # when: the primary stops and the writer reads
    pg_cluster.primary.stop("fast")
    response = client.get(PROBE)

    # then: no stale answer: a clean 503 (the client retries) instead of the old name
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "database_unavailable"
    assert counters(metrics.FALLBACKS, "primary_down") == 0


@pytest.mark.parametrize(
    ("health", "serves"),
    [
        (ReplicaHealth(REPLICA, OK, 0.0, replayed_all=True), True),
        (ReplicaHealth(REPLICA, OK, 0.5, replayed_all=False), False),
        (ReplicaHealth(REPLICA, LAGGING, 30.0, replayed_all=True), True),
        (ReplicaHealth(REPLICA, LAGGING, 30.0, replayed_all=False), False),
        (ReplicaHealth(REPLICA, "down"), False),
        # promoted during the outage: the new primary (issue 18's failover)
        (ReplicaHealth(REPLICA, "promoted"), True),
    ],
)
def test_which_replica_verdicts_serve_a_primary_outage(health, serves):
    assert health.serves_primary_outage is serves


@pytest.mark.parametrize(
    ("sql", "plain"),
    [
        ('SELECT "accounts_user"."id" FROM "accounts_user"', True),
        ("  select 1", True),
        ('SELECT "id" FROM "bookings_slot" WHERE "id" = 1 FOR UPDATE', False),
        ('SELECT "id" FROM "bookings_slot" FOR NO KEY UPDATE', False),
        ('SELECT "id" FROM "bookings_slot" FOR SHARE', False),
        ('UPDATE "accounts_user" SET "name" = %s', False),
        ('INSERT INTO "accounts_user" ("email") VALUES (%s) RETURNING "id"', False),
        ("WITH moved AS (DELETE FROM t RETURNING *) SELECT * FROM moved", False),
        ('(SELECT "id" FROM "a") UNION ALL (SELECT "id" FROM "b")', True),
        ('(SELECT "id" FROM "a" FOR UPDATE) UNION ALL (SELECT "id" FROM "b")', False),
    ],
)
def test_only_plain_selects_are_retried_elsewhere(sql, plain):
    assert _plain_select(sql) is plain


@pytest.mark.django_db
def test_availability_s_one_query_is_a_read_a_replica_may_answer(pg_cluster):
    # Found by make chaos: compiled for PostgreSQL, the UNION ALL starts with "(SELECT", and a
    # pinned customer's availability read that met the killed primary was a 503, not retried.
    assert connection.vendor == "postgresql"
    compiled = selectors._SCHEDULE_FOR_RANGE._compile(connections["default"])[0]
    assert compiled.startswith("(SELECT")
    assert _plain_select(compiled)


def test_a_replica_still_replaying_when_the_primary_stopped_is_asked_again(monkeypatch):
    # given: the first verdict after the outage began finds WAL left to replay, the next none
    verdicts = iter(
        [
            ReplicaHealth(REPLICA, OK, 0.0, replayed_all=False),
            ReplicaHealth(REPLICA, OK, 0.0, replayed_all=True),
        ]
    )
    probes: list[str] = []

    def probe(alias: str) -> ReplicaHealth:
        probes.append(alias)
        return dataclasses.replace(next(verdicts), checked_at=registry.timer())

    monkeypatch.setattr(registry, "probe", probe)
    monkeypatch.setattr(routing, "OUTAGE_REPLAY_CHECK_SECONDS", 0)
    registry.reset()

    # when / then: it serves the outage on the second look, not a check interval later
    assert routing._outage_verdict(REPLICA, down_since=registry.timer()).serves_primary_outage
    assert probes == [REPLICA, REPLICA]


def test_a_replica_whose_replay_stays_behind_is_asked_a_bounded_number_of_times(monkeypatch):
    probes: list[str] = []

    def probe(alias: str) -> ReplicaHealth:
        probes.append(alias)
        return ReplicaHealth(REPLICA, OK, 0.0, registry.timer(), replayed_all=False)

    monkeypatch.setattr(registry, "probe", probe)
    monkeypatch.setattr(routing, "OUTAGE_REPLAY_CHECK_SECONDS", 0)
    registry.reset()

    verdict = routing._outage_verdict(REPLICA, down_since=registry.timer())

    assert not verdict.serves_primary_outage
    assert len(probes) == 1 + routing.OUTAGE_REPLAY_CHECKS
