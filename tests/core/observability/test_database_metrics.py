"""Query timing, pool use and router counters, on the real primary and replica."""

from __future__ import annotations

import pytest
from django.db import connections

from bookings.models import Package
from core.db.health import registry
from core.observability import database
from tests.core.observability.conftest import sample, series

pytestmark = pytest.mark.servers


@pytest.mark.django_db
def test_every_statement_is_timed_by_alias(pg_cluster, django_assert_num_queries):
    before = sample("db_query_duration_seconds_count", {"alias": "default"})
    with django_assert_num_queries(2):
        Package.objects.count()
        list(Package.objects.all())
    assert sample("db_query_duration_seconds_count", {"alias": "default"}) == before + 2


@pytest.mark.django_db
def test_a_failing_statement_is_counted_as_an_error(pg_cluster):
    from django.db import DatabaseError, transaction

    before = sample("db_query_errors_total", {"alias": "default"})
    with (
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connections["default"].cursor() as cursor,
    ):
        cursor.execute("SELECT * FROM no_such_table")
    assert sample("db_query_errors_total", {"alias": "default"}) == before + 1


# transaction=True: inside the test's usual atomic() every read would go to the primary.
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_replica_reads_are_timed_and_counted_under_the_replica(pg_cluster):
    replica = {"alias": "replica_1"}
    queries, reads = (
        sample("db_query_duration_seconds_count", replica),
        sample("db_router_reads_total", replica),
    )
    Package.objects.count()  # routed: the healthy replica takes the read
    assert sample("db_router_reads_total", replica) == reads + 1
    assert sample("db_query_duration_seconds_count", replica) == queries + 1


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_replica_fallback_shows_on_metrics(pg_cluster, scrape):
    # given the replica is down
    pg_cluster.stop_replica(1)
    registry.reset()
    before = series(scrape(), "db_router_fallbacks_total", reason="replica_down")
    # when a read is routed
    Package.objects.count()
    # then the fallback is counted and the read went to the primary
    scraped = scrape()
    assert series(scraped, "db_router_fallbacks_total", reason="replica_down") == before + 1
    assert series(scraped, "db_replica_usable", alias="replica_1") == 0


@pytest.mark.django_db
def test_pool_use_and_the_servers_connection_limit(pg_cluster, scrape):
    # given this process holds a connection to the primary
    Package.objects.exists()
    database.update_pool_gauges()
    (limit,) = pg_cluster.primary.query(database.LIMIT_SQL)[0]
    scraped = scrape()
    assert series(scraped, "db_connection_pool_size", alias="default") >= 1
    assert series(scraped, "db_connection_limit", alias="default") == limit
    assert series(scraped, "db_replica_max_lag_seconds") > 0
