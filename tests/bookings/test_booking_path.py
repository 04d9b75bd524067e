"""The booking path's fixed cost in SQL statements, counted on the real PostgreSQL (issue 17):
booking creation, a customer's bookings list and detail, availability for 30 days."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
import redis
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from core.models import OutboxMessage
from tests.bookings.conftest import days_ahead, order
from tests.core.conftest import broker_at  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _postgres_only(pg_cluster):
    assert connection.vendor == "postgresql"


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement sent to any database alias inside the block, as ``VERB table``."""
    found: list[str] = []
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[a])) for a in connections]
        yield found
    for capture in captured:
        found.extend(_label(query["sql"]) for query in capture.captured_queries)


def _label(sql: str) -> str:
    verb = sql.lstrip("(").split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', sql)
    label = f"{verb} {table.group(1)}" if table else verb
    if "ON CONFLICT" in sql:
        label += " ON CONFLICT"
    if " UNION ALL " in sql:
        label += " UNION ALL"
    return label


@pytest.fixture
def broker(redis_server, broker_at):  # noqa: F811
    """A real Redis as Celery's broker (database 1), so tasks are published, not run here."""
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    broker_at(url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    return client


# ---------------------------------------------------------------------------- booking creation
BOOKING_STATEMENTS = [
    "SELECT authtoken_token",  # the token's user (authentication, every request)
    "BEGIN",
    "INSERT bookings_slot ON CONFLICT",  # the slot's row lock
    "SELECT bookings_timeslot UNION ALL",  # capacity and holding bookings, under the lock
    "INSERT bookings_booking",
    "INSERT core_outboxmessage",  # both emails' rows, one statement
    "COMMIT",
    "BEGIN",
    "UPDATE core_outboxmessage",  # after the commit: claimed and marked published at once
    "COMMIT",
]


def test_a_booking_costs_six_sql_statements_and_two_transactions(
    customer_client, catalogue, broker
):
    # given a warm catalogue (the first booking of this process loaded it)
    first = customer_client.post(
        "/api/v1/bookings/", order(catalogue, event_date=days_ahead(11).isoformat()), format="json"
    )
    assert first.status_code == 201
    broker.flushdb()
    # when a customer books a slot nobody has booked yet (its lock row is created)
    with statements() as sent:
        response = customer_client.post("/api/v1/bookings/", order(catalogue), format="json")
    # then: four statements between BEGIN and COMMIT, the outbox's mark after it, nothing else
    assert response.status_code == 201, response.content
    assert sent == BOOKING_STATEMENTS
    assert len([s for s in sent if s not in ("BEGIN", "COMMIT")]) == 6
    # and both emails' tasks are on the broker, their rows marked published
    assert broker.llen("celery") == 2
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def test_booking_a_slot_that_has_a_lock_row_costs_the_same(customer_client, catalogue, broker):
    customer_client.post("/api/v1/bookings/", order(catalogue), format="json")
    with statements() as sent:
        response = customer_client.post("/api/v1/bookings/", order(catalogue), format="json")
    assert response.status_code == 201, response.content
    assert sent == BOOKING_STATEMENTS


def test_a_full_slot_is_refused_after_two_statements_in_its_transaction(
    customer_client, catalogue, broker
):
    for _ in range(2):  # capacity 2
        customer_client.post("/api/v1/bookings/", order(catalogue), format="json")
    with statements() as sent:
        response = customer_client.post("/api/v1/bookings/", order(catalogue), format="json")
    assert response.status_code == 409
    assert sent == [
        "SELECT authtoken_token",
        "BEGIN",
        "INSERT bookings_slot ON CONFLICT",
        "SELECT bookings_timeslot UNION ALL",
        "ROLLBACK",
    ]
