"""The staff operations dashboard: who may see it, and that it shows the live figures."""

from __future__ import annotations

import datetime
from html.parser import HTMLParser

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from bookings.models import Booking
from core.observability import metrics
from tests.bookings.conftest import catalogue  # noqa: F401 (fixture: 18:00, capacity 2, daily)
from tests.reviews.factories import make_booking

pytestmark = pytest.mark.django_db

URL = "/admin/operations/"


class _Tables(HTMLParser):
    """The rows of every ``<div class="module" id=...>`` table: ``{id: [[cell text, ...]]}``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._module: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "div" and "module" in (attributes.get("class") or "").split():
            self._module = attributes.get("id") or ""
            self.tables[self._module] = []
        elif tag == "tr" and self._module is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._module is not None:
            self.tables[self._module].append(self._row)
            self._row = None
        elif tag == "table":
            self._module = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(response) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser.tables


def row(table: list[list[str]], first_cell: str) -> list[str]:
    [found] = [r for r in table if r and r[0] == first_cell]
    return found


def decisions(scope: str, decision: str) -> int:
    value = REGISTRY.get_sample_value(
        "throttle_decisions_total", {"scope": scope, "decision": decision}
    )
    return int(value or 0)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


class TestAccess:
    def test_anonymous_is_sent_to_the_admin_login(self, client):
        # when someone without a session opens the dashboard
        response = client.get(URL)
        # then they are sent to log in first, and see no figure
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={URL}"

    def test_a_customer_is_sent_to_the_admin_login(self, client, customer):
        # given a logged-in customer (not staff)
        client.force_login(customer)
        # when they open the dashboard, then it is the login page for them too
        response = client.get(URL)
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={URL}"

    def test_the_admin_index_links_it(self, staff_client):
        response = staff_client.get("/admin/")
        assert response.status_code == 200
        assert f'href="{URL}"'.encode() in response.content

    def test_it_is_never_cached(self, staff_client):
        response = staff_client.get(URL)
        assert "no-store" in response["Cache-Control"]


class TestFigures:
    def test_staff_see_every_figure(self, staff_client, catalogue, customer):  # noqa: F811
        # given today's bookings: three at the scheduled 18:00 slot, one at an unscheduled noon
        today = timezone.localdate()
        evening, noon = datetime.time(18, 0), datetime.time(12, 0)
        for status in (Booking.Status.PENDING, Booking.Status.CONFIRMED, Booking.Status.CANCELLED):
            make_booking(customer=customer, status=status, event_date=today, start_time=evening)
        make_booking(customer=customer, event_date=today, start_time=noon)  # completed
        make_booking(customer=customer, event_date=today + datetime.timedelta(days=1))
        # and cache lookups of a dataset (3 hits, 1 miss) and throttle rejections
        for hit in (True, True, True, False):
            metrics.record_cache_lookup("ops_dashboard_test", hit=hit)
        metrics.record_throttle_decision("search", "rejected")
        metrics.record_throttle_decision("search", "rejected")
        rejected, allowed = decisions("search", "rejected"), decisions("search", "allowed")

        # when staff open the dashboard
        response = staff_client.get(URL)

        # then it shows them all
        assert response.status_code == 200
        shown = tables(response)
        assert row(shown["operations-cache"], "ops_dashboard_test") == [
            "ops_dashboard_test",
            "3",
            "1",
            "75.0%",
        ]
        search = row(shown["operations-throttles"], "search")
        assert search[1:3] == [str(allowed), str(rejected)]
        scopes = {r[0] for r in shown["operations-throttles"][1:]}
        assert {"anon", "user", "login_ip", "login_email", "payment_create"} <= scopes
        assert row(shown["operations-bookings"], "18:00") == [
            "18:00", "2", "1", "1", "0", "1", "0"
        ]  # fmt: skip
        assert row(shown["operations-bookings"], "12:00") == [
            "12:00", "not scheduled", "0", "0", "1", "0", "\N{EN DASH}"
        ]  # fmt: skip
        primary = row(shown["operations-databases"], "default")
        assert primary[1] == "primary" and "ok" in primary[2]
        assert row(shown["operations-readiness"], "primary")[1] == "ok"
        assert "Cache: breaker closed" in response.content.decode()

    def test_an_open_breaker_in_any_worker_is_shown(self, staff_client):
        # given one worker's breaker reports open on /metrics
        metrics.set_cache_breaker_open(True)
        try:
            response = staff_client.get(URL)
        finally:
            metrics.set_cache_breaker_open(False)
        # then the dashboard says so
        assert "(open in at least one worker)" in response.content.decode()


@pytest.mark.servers
@pytest.mark.django_db(databases="__all__")
def test_replica_role_and_lag_on_the_real_servers(staff_client, pg_cluster):
    # given the session's primary and streaming replica
    # when staff open the dashboard
    response = staff_client.get(URL)
    # then the replica is listed in its role, with its lag, and reads may go there
    shown = tables(response)["operations-databases"]
    primary, replica = row(shown, "default"), row(shown, "replica_1")
    assert primary[1] == "primary" and "ok" in primary[2]
    assert replica[1] == "replica (in recovery)"
    assert "ok" in replica[2]
    assert float(replica[3]) >= 0
    assert replica[4] == "yes"
    assert row(tables(response)["operations-readiness"], "replica_1")[1] == "ok"
