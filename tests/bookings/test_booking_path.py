"""The booking path's fixed cost in SQL statements, counted on the real PostgreSQL (issue 17):
booking creation, a customer's bookings list and detail, availability for 30 days."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
import redis
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bookings import selectors
from core.models import OutboxMessage
from tests.bookings.conftest import days_ahead, make_booking, order
from tests.conftest import client_for, make_customer
from tests.core.cache.conftest import at_once
from tests.core.conftest import broker_at  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _postgres_only(pg_cluster):
    assert connection.vendor == "postgresql"


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement sent to any database alias inside the block, as ``VERB table`` (and
    the alias unless it is the primary)."""
    found: list[str] = []
    with ExitStack() as stack:
        captured = [
            (alias, stack.enter_context(CaptureQueriesContext(connections[alias])))
            for alias in connections
        ]
        yield found
    for alias, capture in captured:
        where = "" if alias == "default" else f" ({alias})"
        found.extend(_label(query["sql"]) + where for query in capture.captured_queries)


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
    "INSERT core_outboxmessage",  # the emails' task (one row for both)
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
    # and the emails' one task is on the broker, its row marked published
    assert broker.llen("celery") == 1
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


# ---------------------------------------------------------------------------- a customer's reads
def test_a_customers_list_page_and_a_detail_are_one_query_each(catalogue, redis_server):
    # given a customer with more bookings than a page, on many dates, whose token this process
    # has seen before (its first request also maps the token to its user for the replica pins)
    customer = make_customer("many@example.com")
    # from 4 days ahead: the 72 hours' notice rules out day 3's 18:00 after 18:00 local time
    bookings = [make_booking(catalogue, customer, event_date=days_ahead(4 + n)) for n in range(30)]
    client = client_for(customer)
    assert client.get("/api/v1/bookings/").status_code == 200
    # when the first page, a deeper page and a detail are read
    with statements() as first_page:
        response = client.get("/api/v1/bookings/")
    assert response.status_code == 200 and response.json()["next"]
    with statements() as next_page:
        assert client.get(response.json()["next"]).status_code == 200
    with statements() as detail:
        assert client.get(f"/api/v1/bookings/{bookings[0].pk}/").status_code == 200
    # then each is the token's query and one query of the bookings (no COUNT, no N+1)
    assert first_page == ["SELECT authtoken_token", "SELECT bookings_booking"]
    assert next_page == ["SELECT authtoken_token", "SELECT bookings_booking"]
    assert detail == ["SELECT authtoken_token", "SELECT bookings_booking"]


# ---------------------------------------------------------------------------- availability
def availability(client, days: int = 30):
    response = client.get(
        f"/api/v1/bookings/availability/?start={days_ahead(1)}&end={days_ahead(days)}"
    )
    assert response.status_code == 200, response.content
    return response.json()


def remaining(body: list[dict], day) -> int:
    [entry] = [d for d in body if d["date"] == day.isoformat()]
    return entry["slots"][0]["remaining"]


def test_30_days_of_availability_are_one_query_cold_and_none_warm(
    api_client, catalogue, customer, redis_server
):
    make_booking(catalogue, customer)
    with statements() as cold:
        availability(api_client)
    with statements() as warm:
        availability(api_client)
    assert cold == ["SELECT bookings_timeslot UNION ALL"]  # slots, overrides and counts at once
    assert warm == []


def test_a_booking_and_a_cancel_are_seen_by_the_next_availability_read(
    api_client, customer_client, catalogue, redis_server
):
    # given a cached month with both places of day 10 free
    day = days_ahead(10)
    assert remaining(availability(api_client), day) == 2
    # when a customer books it, the next read by anyone shows one place left
    booked = customer_client.post("/api/v1/bookings/", order(catalogue), format="json")
    assert booked.status_code == 201
    assert remaining(availability(api_client), day) == 1
    assert remaining(availability(customer_client), day) == 1
    # and once the booking is cancelled, two again
    cancelled = customer_client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel/")
    assert cancelled.status_code == 200
    assert remaining(availability(api_client), day) == 2


def test_20_concurrent_cold_availability_requests_compute_it_once(
    catalogue, redis_server, monkeypatch
):
    # given a cold cache, and the one function that reads the schedule counted
    computed: list[tuple] = []
    real = selectors._slot_use

    def counted(**kwargs):
        computed.append((kwargs["start"], kwargs["end"]))
        time.sleep(0.3)  # a slow database: every other request arrives while it computes
        return real(**kwargs)

    monkeypatch.setattr(selectors, "_slot_use", counted)
    clients = [APIClient() for _ in range(20)]
    # when 20 clients ask for the same 30 days at the same instant
    bodies = at_once(20, lambda i: availability(clients[i]))
    # then one of them computed it, and every one got the same answer
    assert computed == [(days_ahead(1), days_ahead(30))]
    assert all(body == bodies[0] for body in bodies)
