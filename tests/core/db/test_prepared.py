"""PreparedQuery: a queryset compiled once, run with each call's values, routed like the ORM."""

from __future__ import annotations

import datetime

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import BigIntegerField, DateTimeField, EmailField
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from core.db.prepared import Param, PreparedQuery
from tests.conftest import make_customer

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True, databases="__all__")]

REPLICA = "replica_1"

JOINED_SINCE = PreparedQuery(
    lambda: User.objects.filter(
        email=Param("email", EmailField()), date_joined__gte=Param("since", DateTimeField())
    ).values_list("email", "date_joined")
)


def test_each_call_binds_its_own_values_and_reads_rows_as_the_orm_does(pg_cluster):
    # given two customers
    first, second = make_customer("first@example.com"), make_customer("second@example.com")
    long_ago = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    pg_cluster.wait_for_replay()

    # when the same prepared query runs for each, and once with a date that excludes them
    rows = [
        JOINED_SINCE.rows(email="first@example.com", since=long_ago),
        JOINED_SINCE.rows(email="second@example.com", since=long_ago),
        JOINED_SINCE.rows(email="second@example.com", since=second.date_joined),
        JOINED_SINCE.rows(email="first@example.com", since=datetime.datetime.now(datetime.UTC)),
    ]

    # then each answer is the ORM's own for those values, typed as the ORM types them
    expected = [
        [
            tuple(row)
            for row in User.objects.filter(pk=customer.pk).values_list("email", "date_joined")
        ]
        for customer in (first, second, second)
    ]
    assert [[tuple(row) for row in answer] for answer in rows] == [*expected, []]
    assert isinstance(rows[0][0][1], datetime.datetime)


def test_it_runs_on_the_database_the_router_picks_for_a_read(pg_cluster):
    # given
    make_customer("routed@example.com")
    pg_cluster.wait_for_replay()
    since = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)

    # when it runs outside and then inside a write transaction
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        JOINED_SINCE.rows(email="routed@example.com", since=since)
    with transaction.atomic(), CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary:
        JOINED_SINCE.rows(email="routed@example.com", since=since)

    # then one statement each: on a replica, then on the primary that holds the transaction
    assert ["accounts_user" in q["sql"] for q in on_replica.captured_queries] == [True]
    assert ["accounts_user" in q["sql"] for q in on_primary.captured_queries] == [True]


BY_ID = PreparedQuery(
    lambda: User.objects.filter(pk=Param("id", BigIntegerField())).values_list("email", flat=True)
)


def test_an_id_no_column_can_hold_matches_nothing_without_a_query(pg_cluster):
    # given a customer whose id is past a 32-bit integer's range, as a bigint id may be
    customer = make_customer("big@example.com")
    User.objects.filter(pk=customer.pk).update(id=2**40)

    # when it and an id past a bigint's range (as a URL may carry) are looked up on the primary
    with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as captured, transaction.atomic():
        found = BY_ID.rows(id=2**40)
        past_bigint = BY_ID.rows(id=10**30)

    # then the large id is found, and the impossible one is no row, not an error
    assert [tuple(row) for row in found] == [("big@example.com",)]
    assert past_bigint == []
    assert sum("accounts_user" in q["sql"] for q in captured.captured_queries) == 1
