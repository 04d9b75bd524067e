"""The stale-replica refill race, with WAL replay paused on the standby: a miss right after an
invalidation must not store what a replica that has not replayed the write still says."""

from __future__ import annotations

import pytest
from django.test import Client

from core.db import metrics as db_metrics
from core.db.metrics import value
from reviews import services
from reviews.models import Review
from tests.core.cache.conftest import STATS, Catalogue
from tests.reviews.factories import make_booking

pytestmark = [
    pytest.mark.servers,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

REPLICA = "replica_1"


def approve_a_second_review_while_replay_is_paused(
    pg_cluster, catalogue: Catalogue, clock, settings
) -> None:
    """Stats cached with one approved review; then, long after that, a second review is
    approved on the primary while the standby does not replay it."""
    pending = Review.objects.create(
        booking=make_booking(customer=catalogue.customer, package=catalogue.package),
        customer=catalogue.customer,
        rating=3,
        title="Fine",
        body="It was fine.",
    )
    assert Client().get(STATS).json()["count"] == 1
    pg_cluster.wait_for_replay()
    clock.advance(settings.REPLICA_PIN_SECONDS + 1)
    pg_cluster.pause_replay(1)
    services.review_approve(review_ids=[pending.pk], moderator=catalogue.staff)
    # an ordinary read at this moment goes to the replica, which has not seen the approval
    reads = value(db_metrics.READS, alias=REPLICA)
    assert Review.objects.filter(status=Review.Status.APPROVED).count() == 1
    assert value(db_metrics.READS, alias=REPLICA) == reads + 1


def test_a_refill_right_after_the_write_reads_the_primary(
    pg_cluster, redis_server, frozen_replica_health, catalogue: Catalogue, clock, settings
):
    # given
    approve_a_second_review_while_replay_is_paused(pg_cluster, catalogue, clock, settings)
    primary_reads = value(db_metrics.READS, alias="default")

    # when: an anonymous reader (not pinned) misses the new version
    refilled = Client().get(STATS).json()

    # then: it was computed on the primary, and what is cached is the new count
    assert refilled["count"] == 2
    assert value(db_metrics.READS, alias="default") > primary_reads
    assert Client().get(STATS).json()["count"] == 2
    pg_cluster.resume_replay(1)
    assert Client().get(STATS).json()["count"] == 2


def test_without_the_rule_the_stale_replica_value_would_be_cached(
    pg_cluster, redis_server, frozen_replica_health, catalogue: Catalogue, clock, settings
):
    # given: the refill window switched off (the control experiment)
    settings.REPLICA_PIN_SECONDS = 0
    approve_a_second_review_while_replay_is_paused(pg_cluster, catalogue, clock, settings)

    # when
    refilled = Client().get(STATS).json()
    pg_cluster.resume_replay(1)
    pg_cluster.wait_for_replay()

    # then: the race is real: the stale count was stored and outlives the replica's catch-up
    assert refilled["count"] == 1
    assert Client().get(STATS).json()["count"] == 1
