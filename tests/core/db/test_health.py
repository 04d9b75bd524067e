"""Replica health and lag: cached per process, skipped when lagging, back after catching up."""

from __future__ import annotations

import time

import pytest
from django.db import DEFAULT_DB_ALIAS

from accounts.models import User
from core.db import metrics
from core.db.health import LAGGING, OK, PROMOTED, registry
from core.db.routing import read_alias
from tests.conftest import make_customer

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True, databases="__all__")]

REPLICA = "replica_1"
INTERVAL = 2
WAIT_SECONDS = 15


def _wait_until_probe_says(state: str) -> None:
    """Real replication takes real time: poll a fresh probe, bounded in count and time."""
    deadline = time.monotonic() + WAIT_SECONDS
    for _ in range(300):
        if registry.probe(REPLICA).state == state or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert registry.probe(REPLICA).state == state


def test_an_idle_caught_up_replica_has_no_lag(pg_cluster):
    # given: nothing written since the replica caught up
    pg_cluster.wait_for_replay()

    # when
    health = registry.probe(REPLICA)

    # then: an idle primary does not look like lag
    assert (health.state, health.lag_seconds) == (OK, 0.0)


def test_health_is_checked_once_per_interval_not_per_query(pg_cluster, clock, counters, settings):
    # given
    settings.REPLICA_HEALTH_CHECK_SECONDS = INTERVAL

    # when: many reads within one interval, then one more after it
    for _ in range(20):
        assert read_alias(User) == REPLICA
    checks_within_interval = counters(metrics.HEALTH_CHECKS, REPLICA)
    clock.advance(INTERVAL)
    read_alias(User)

    # then
    assert checks_within_interval == 1
    assert counters(metrics.HEALTH_CHECKS, REPLICA) == 2


def test_lagging_replica_is_left_within_one_interval_and_rejoins_after_resume(
    pg_cluster, clock, counters, settings
):
    # given: a 0.2 s budget, a healthy replica already chosen
    settings.REPLICA_MAX_LAG_SECONDS = 0.2
    settings.REPLICA_HEALTH_CHECK_SECONDS = INTERVAL
    pg_cluster.wait_for_replay()
    assert read_alias(User) == REPLICA

    # when: replay pauses while the primary keeps writing, past the budget
    pg_cluster.pause_replay(1)
    customer = make_customer()
    _wait_until_probe_says(LAGGING)

    # then: the cached verdict holds until the interval ends, then reads leave the replica
    assert read_alias(User) == REPLICA
    clock.advance(INTERVAL)
    assert read_alias(User) == DEFAULT_DB_ALIAS
    assert User.objects.filter(pk=customer.pk).exists()
    assert counters(metrics.FALLBACKS, "replica_lagging") >= 2
    assert metrics.value(metrics.REPLICA_USABLE, alias=REPLICA) == 0
    assert metrics.value(metrics.REPLICA_LAG, alias=REPLICA) > 0.2

    # when: replay resumes and catches up
    pg_cluster.resume_replay(1)
    pg_cluster.wait_for_replay()
    clock.advance(INTERVAL)

    # then: reads return to the replica, which now has the row
    assert read_alias(User) == REPLICA
    assert User.objects.filter(pk=customer.pk).exists()
    assert metrics.value(metrics.REPLICA_USABLE, alias=REPLICA) == 1


def test_paused_but_caught_up_replica_is_still_fresh(pg_cluster, settings):
    # given: replay paused with nothing new to replay
    settings.REPLICA_MAX_LAG_SECONDS = 0.2
    pg_cluster.wait_for_replay()
    pg_cluster.pause_replay(1)

    # then
    assert registry.probe(REPLICA).state == OK


def test_a_server_not_in_recovery_is_reported_promoted(pg_cluster):
    # The primary answers like a promoted replica would: pg_is_in_recovery() is false.
    health = registry.probe(DEFAULT_DB_ALIAS)
    assert health.state == PROMOTED
    assert not health.usable


def test_state_changes_are_logged_once(pg_cluster, clock, settings, caplog):
    # given
    settings.REPLICA_HEALTH_CHECK_SECONDS = INTERVAL
    caplog.set_level("INFO", logger="core.db.health")

    # when: the same verdict three times, then a change
    for _ in range(3):
        read_alias(User)
        clock.advance(INTERVAL)
    registry.mark_down(REPLICA, "test")
    registry.mark_down(REPLICA, "test")

    # then
    messages = [record.getMessage() for record in caplog.records]
    assert sum("is usable" in message for message in messages) == 1
    assert sum("is down" in message for message in messages) == 1
