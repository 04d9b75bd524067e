"""The booking path against its framework floors: the floors' request lists, comparisons and
targets (pure functions on fake results), and how the floor views name the customer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory

from bench.load import targets
from bench.load.config import BenchConfig
from bench.load.fixtures import MIXED_WRITE_SHARE, floor_requests
from bench.load.plan import COMPARISONS
from bench.minimal import urls as floors
from bookings.models import Booking, Package
from tests.conftest import make_customer

BODY = '{"package":3,"event_date":"2027-01-08","start_time":"17:00","adults":4}'
APP_LISTS: dict[str, list[tuple[str, str, str, str]]] = {
    "booking_create": [
        ("POST", "/api/v1/bookings/", "tok-a", BODY),
        ("POST", "/api/v1/bookings/", "tok-b", BODY.replace("4}", "6}")),
    ],
    "my_bookings": [
        ("GET", "/api/v1/bookings/", "tok-a", ""),
        ("GET", "/api/v1/bookings/", "tok-b", ""),
    ],
    "availability": [
        ("GET", "/api/v1/bookings/availability/?start=2027-01-01&end=2027-01-30", "", ""),
        ("GET", "/api/v1/bookings/availability/?start=2027-01-02&end=2027-01-31", "", ""),
    ],
}
CUSTOMER_IDS = {"tok-a": 11, "tok-b": 12}
FLOOR_COMPARISONS = {
    "booking_create_vs_floor": ("booking_create", "minimal_booking_create"),
    "my_bookings_vs_floor": ("my_bookings", "minimal_my_bookings"),
    "availability_vs_floor": ("availability", "minimal_availability"),
}
CONFIG = BenchConfig(out_dir=Path("unused"), connections=(16, 64))


# ---------------------------------------------------------------------------- request lists


def test_floor_lists_replay_the_apps_bodies_with_customer_ids_for_tokens() -> None:
    lists = floor_requests(APP_LISTS, CUSTOMER_IDS)

    assert lists["minimal_booking_create"] == [
        ("POST", "/bookings/", "11", BODY),
        ("POST", "/bookings/", "12", BODY.replace("4}", "6}")),
    ]
    assert lists["minimal_my_bookings"] == [
        ("GET", "/bookings/mine/", "11", ""),
        ("GET", "/bookings/mine/", "12", ""),
    ]
    # the same 30-day windows, on the floor's path
    assert lists["minimal_availability"] == [
        ("GET", "/availability/?start=2027-01-01&end=2027-01-30", "", ""),
        ("GET", "/availability/?start=2027-01-02&end=2027-01-31", "", ""),
    ]


def test_floor_lists_are_empty_without_customers() -> None:
    lists = floor_requests({**APP_LISTS, "booking_create": [], "my_bookings": []}, {})

    assert lists["minimal_booking_create"] == [] and lists["minimal_my_bookings"] == []


# ---------------------------------------------------------------------------- comparisons


@pytest.mark.parametrize("key", FLOOR_COMPARISONS)
def test_booking_path_comparisons_put_the_app_direct_against_the_floor(key: str) -> None:
    comparison = {c.key: c for c in COMPARISONS}[key]
    app_list, floor_list = FLOOR_COMPARISONS[key]

    assert (comparison.a.endpoint, comparison.a.requests) == ("backend1", app_list)
    assert (comparison.b.endpoint, comparison.b.requests) == ("minimal", floor_list)
    assert comparison.metric == "requests_per_s" and comparison.a.nginx is None
    # the floor's list is one the fixtures write
    assert floor_list in floor_requests(APP_LISTS, CUSTOMER_IDS)


# ---------------------------------------------------------------------------- targets


def _run(ok_per_s: float, *, requests: int = 100, queries: int | None = None) -> dict[str, Any]:
    # wrk saw 4 answers fewer than the backends gave: requests in flight when it stopped
    return {
        "ok_per_s": ok_per_s,
        "requests": requests - 4,
        "errors": 0,
        "non_2xx": 0,
        "statuses": {"200": requests - 4},
        "latency_ms": {"p50": 1.0, "p99": 2.0},
        "app": None if queries is None else {"queries": queries, "requests": requests},
    }


def _comparison(a: float, b: float, *, queries: int | None = None) -> dict[str, Any]:
    return {
        "a": {"label": "app", "value": a, "runs": [_run(a, queries=queries)]},
        "b": {"label": "floor", "value": b, "runs": [_run(b)]},
        "ratio": a / b,
    }


def _results(**comparisons: dict[str, Any]) -> dict[str, Any]:
    return {
        "scenarios": {"mixed": {"runs": {"16": _run(150.0), "64": _run(240.0)}}},
        "comparisons": comparisons,
    }


def _by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {target["name"]: target for target in targets.evaluate(results, CONFIG)}


ALL_FLOORS = {
    "drf_vs_minimal": _comparison(900.0, 3000.0),
    "detail_uncached_vs_one_query": _comparison(500.0, 1000.0),
    "booking_create_vs_floor": _comparison(60.0, 200.0, queries=800),  # 8 SQL a booking
    "my_bookings_vs_floor": _comparison(400.0, 500.0),
    "availability_vs_floor": _comparison(300.0, 800.0),
}


def test_booking_floor_targets_read_their_comparisons() -> None:
    found = _by_name(_results(**ALL_FLOORS))

    create = found["booking_create_vs_floor"]
    assert create["measured"] == pytest.approx(0.3) and create["passed"] is False
    assert create["target"] == "≥ 0.5x"
    assert found["my_bookings_vs_floor"]["measured"] == pytest.approx(0.8)
    assert found["my_bookings_vs_floor"]["passed"] is True
    assert found["availability_vs_floor"]["measured"] == pytest.approx(0.375)
    # SQL per booking from the app side's counters: 800 queries over its 100 answers
    sql = found["booking_sql_per_request"]
    assert sql["measured"] == pytest.approx(8) and sql["passed"] is False
    assert sql["target"] == "≤ 6"


def test_floor_targets_without_their_comparisons_are_not_measured() -> None:
    found = _by_name(_results())

    for name in (*FLOOR_COMPARISONS, "booking_sql_per_request", "mixed_vs_floors"):
        assert found[name]["measured"] is None, name
        assert found[name]["passed"] is None, name


def test_mixed_shares_are_the_lua_scripts_90_10_split() -> None:
    shares = targets.mixed_shares()

    assert sum(shares.values()) == pytest.approx(1)
    assert shares["booking_create"] == MIXED_WRITE_SHARE == 0.1
    assert set(shares) == set(targets.MIXED_FLOORS)
    # featured weighs 20 of the reads' 100: 20 % of 90 %
    assert shares["featured"] == pytest.approx(0.18)


def test_mixed_floor_is_the_weighted_harmonic_mean_of_the_parts_floors() -> None:
    # given floors: cached blog reads (45 % of the mix) 3000/s, post detail (22.5 %) 1000/s,
    # availability (13.5 %) 800/s, my bookings (9 %) 500/s, bookings (10 %) 200/s
    results = _results(**ALL_FLOORS)

    # then: 1 / (0.45/3000 + 0.225/1000 + 0.135/800 + 0.09/500 + 0.1/200) = 1 / 0.00122375
    assert targets.mixed_floor(results) == pytest.approx(817.16, abs=0.01)


def test_mixed_vs_floors_reads_the_mixed_run_at_the_summary_concurrency() -> None:
    found = _by_name(_results(**ALL_FLOORS))["mixed_vs_floors"]
    floor = targets.mixed_floor(_results(**ALL_FLOORS))
    assert floor is not None

    assert found["measured"] == pytest.approx(240.0 / floor)  # the c=64 run, not c=16
    assert found["passed"] is (240.0 / floor >= 0.35)
    assert found["target"] == "≥ 0.35x"
    assert "mixed 240/s at 64 connections, was 157-232/s" in found["note"]
    assert f"floors' mix {floor:,.0f}/s" in found["note"]


def test_mixed_vs_floors_without_one_floor_is_not_measured_but_notes_the_mixed_rate() -> None:
    partial = {k: v for k, v in ALL_FLOORS.items() if k != "availability_vs_floor"}

    found = _by_name(_results(**partial))["mixed_vs_floors"]

    assert found["measured"] is None and found["passed"] is None
    assert "mixed 240/s" in found["note"]


# ---------------------------------------------------------------------------- floor views


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Token 42", 42),
        ("Token 000123", 123),
        (None, None),
        ("", None),
        ("Token", None),
        ("Token ", None),
        ("Bearer 42", None),
        ("token 42", None),
        ("Token abc", None),
        ("Token -4", None),
        ("Token 4 2", None),
        ("Token ²", None),  # a digit to isdigit(), not to int()
        ("Token " + "9" * 19, None),  # past a bigint
    ],
)
def test_customer_id_comes_from_the_authorization_header(
    header: str | None, expected: int | None
) -> None:
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    request = RequestFactory().get("/bookings/mine/", **extra)

    assert floors.customer_id(request) == expected


@pytest.mark.parametrize(
    ("view", "method", "args"),
    [
        (floors.bookings_list, "get", ()),
        (floors.booking_detail, "get", (7,)),
        (floors.booking_create, "post", ()),
    ],
)
def test_floor_views_answer_401_without_a_customer(view: Any, method: str, args: tuple) -> None:
    request = getattr(RequestFactory(), method)("/", HTTP_AUTHORIZATION="Token nobody")

    response = view(request, *args)

    assert response.status_code == 401
    assert "Token <customer id>" in json.loads(response.content)["detail"]


@pytest.mark.django_db
def test_floor_books_and_lists_for_the_customer_the_header_names() -> None:
    # given a customer and a package of the app's tables, which the floor writes to
    customer = make_customer()
    package = Package.objects.create(name="Floor", price_per_adult=1000, price_per_child=500)
    body = json.dumps(
        {"package": package.pk, "event_date": "2027-03-05", "start_time": "17:00",
         "adults": 4, "address": "1 Floor Way", "postcode": "94101"}
    )  # fmt: skip
    auth = {"HTTP_AUTHORIZATION": f"Token {customer.pk}"}

    # when
    created = floors.booking_create(
        RequestFactory().post("/bookings/", body, content_type="application/json", **auth)
    )
    listed = floors.bookings_list(RequestFactory().get("/bookings/mine/", **auth))

    # then
    assert created.status_code == 201
    booking_id = json.loads(created.content)["id"]
    assert Booking.objects.get(pk=booking_id).customer_id == customer.pk
    assert [row["id"] for row in json.loads(listed.content)["results"]] == [booking_id]
