"""Every route under /api/, walked from the URL resolver: a browser's Accept header and hostile
input get a JSON 4xx (or the normal answer), never a 500 nor an HTML page."""

import collections
import datetime
import itertools
import json
import re
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from blog import services as blog_services
from bookings.models import Booking, ServiceZone, TimeSlot
from payments.models import Payment
from tests.conftest import client_for, make_customer
from tests.reviews.factories import make_booking, make_review

pytestmark = pytest.mark.django_db

# The one HTML page under /api/: the browsable docs (API.md, Operations).
HTML_PAGES = {"/api/docs/"}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
METHODS = ("get", "post", "put", "patch", "delete", "options")
PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def api_routes() -> Iterator[tuple[str, URLPattern]]:
    """(route with ``<converter:name>`` placeholders, pattern) for each route under /api/."""

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            else:
                yield route, pattern

    for route, pattern in walk(get_resolver().url_patterns, "/"):
        if route.startswith("/api/"):
            yield route, pattern


def allowed_methods(pattern: URLPattern) -> list[str]:
    view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    if view is None:
        return ["get"]
    return [
        method for method in METHODS if method in view.http_method_names and hasattr(view, method)
    ]


@pytest.fixture
def world() -> dict[str, object]:
    """One real object per kind a path names, owned by the customer whose client is used."""
    customer = make_customer()
    booking = make_booking(customer=customer)
    make_review(customer=customer, booking=booking)
    unpaid = make_booking(customer=customer, status=Booking.Status.PENDING, event_date=in_days(20))
    payment = Payment.objects.create(
        booking=booking, kind="deposit", amount=1000, provider=Payment.Provider.MANUAL
    )
    post = blog_services.post_create(
        author=customer, title="Hello", slug="hello", body="b", excerpt="", tags=(), featured=False
    )
    blog_services.post_publish(post=post)
    # The catalogue a quote needs: a zone for the postcode and a slot on every weekday.
    ServiceZone.objects.create(name="LA", postcode_prefixes=["900"], travel_fee=0)
    for weekday in TimeSlot.Weekday.values:
        TimeSlot.objects.create(weekday=weekday, start_time=datetime.time(18, 0), capacity=2)
    return {
        "customer": customer,
        "package_id": booking.package_id,
        "booking_id": booking.pk,
        "unpaid_booking_id": unpaid.pk,
        "payment_id": payment.pk,
        "slug": post.slug,
    }


def concrete_paths(world: dict[str, object]) -> list[tuple[str, list[str]]]:
    """Every API route with its parameters filled from ``world``, and its methods."""
    paths = []
    for route, pattern in api_routes():
        missing = {m["name"] for m in PARAMETER.finditer(route)} - set(world)
        assert not missing, f"{route}: add a real object for {missing} to the fixture"
        path = PARAMETER.sub(lambda match: str(world[match["name"]]), route)
        paths.append((path, allowed_methods(pattern)))
    return paths


def route_calls(world: dict[str, object]) -> list[tuple[str, str]]:
    """(path, method) of every API route and method. Deletes last: DELETE /auth/token/
    revokes the token every other request of the walk needs."""
    calls = [(path, method) for path, methods in concrete_paths(world) for method in methods]
    return sorted(calls, key=lambda call: call[1] == "delete")


def test_the_walk_finds_every_api_route(world):
    paths = dict(concrete_paths(world))
    # A sample of each app's routes: the walk enumerates, it does not list by hand.
    assert f"/api/v1/bookings/{world['booking_id']}/cancel/" in paths
    assert f"/api/v1/payments/{world['payment_id']}/" in paths
    assert "/api/v1/blog/posts/hello/" in paths
    assert "/api/v1/reviews/" in paths and "/api/schema/" in paths
    assert len(paths) >= 18


def assert_json_body(response, path: str) -> None:
    content_type = response.headers.get("Content-Type", "")
    assert content_type.startswith("application/json"), (path, response.status_code, content_type)
    json.loads(response.content)


@pytest.mark.parametrize("as_customer", [False, True], ids=["anonymous", "customer"])
def test_a_browser_accept_header_gets_200_or_406_and_json_on_every_route(world, as_customer):
    # given a client that asks for HTML only, as a browser's address bar does for a page
    client = client_for(world["customer"]) if as_customer else APIClient()
    for path, method in route_calls(world):
        # when
        response = getattr(client, method)(path, HTTP_ACCEPT="text/html")
        # then
        if path in HTML_PAGES and method == "get":
            assert response.status_code == 200, path
            continue
        assert response.status_code in (200, 406), (method, path, response.status_code)
        assert_json_body(response, path)


@pytest.mark.parametrize("as_customer", [False, True], ids=["anonymous", "customer"])
def test_a_real_browser_accept_header_never_gets_a_500(world, as_customer):
    client = client_for(world["customer"]) if as_customer else APIClient()
    for path, method in route_calls(world):
        response = getattr(client, method)(path, HTTP_ACCEPT=BROWSER_ACCEPT)
        assert response.status_code < 500, (method, path, response.status_code)
        # Errors are JSON; answers are JSON but the docs' page, the schema and a 204.
        if response.status_code >= 400 or (
            response.status_code != 204 and path not in {*HTML_PAGES, "/api/schema/"}
        ):
            assert_json_body(response, path)


# Hostile values: wrong types, huge and negative numbers, NUL bytes, odd unicode.
HOSTILE_VALUES = [
    "1",
    True,
    10.5,
    -1,
    10**30,
    None,
    [1],
    {},
    "a\x00b",
    "\ud83c\udf63",  # lone surrogates: not encodable as UTF-8
    "9999-12-31",
    "x" * 5000,
]
HOSTILE_QUERY = [
    "\x00",
    "%00",
    "5.0",
    "-1",
    "99999999999999999999999",
    "\u0665",  # ARABIC-INDIC DIGIT FIVE
    "9999-12-31",
    "0001-01-01",
    "x" * 3000,
    "",
]
PAGES = ["cursor", "page_size"]
# The query parameters each list reads (API.md); other routes read none.
QUERY_PARAMETERS = {
    "/api/v1/bookings/availability/": ["start", "end"],
    "/api/v1/blog/posts/": ["tag", "q", *PAGES],
    "/api/v1/blog/posts/featured/": ["limit"],
    "/api/v1/reviews/": ["rating", *PAGES],
    "/api/v1/bookings/": PAGES,
    "/api/v1/payments/": PAGES,
}
ALL_QUERY_NAMES = sorted({name for names in QUERY_PARAMETERS.values() for name in names})
# Builds the whole schema per request (~0.3 s) and reads only ?format= and ?lang=.
NOT_SWEPT = {*HTML_PAGES, "/api/schema/"}


def valid_bodies(world: dict[str, object]) -> dict[str, dict[str, object]]:
    """A valid body per write route (unknown fields are refused, so each gets its own), so
    that one hostile field at a time gets past the others to the code that uses it."""
    quote = {
        "package": world["package_id"],
        "event_date": in_days(10).isoformat(),
        "start_time": "18:00",
        "adults": 10,
        "children": 2,
        "postcode": "90012",
    }
    return {
        "/api/v1/auth/register/": {
            "email": "n@example.com",
            "password": "pw-Long-2026!",
            "name": "N",
        },
        "/api/v1/auth/token/": {"email": "customer@example.com", "password": "wrong"},
        "/api/v1/bookings/quote/": quote,
        "/api/v1/bookings/": {**quote, "address": "1 Grand Ave", "notes": ""},
        "/api/v1/payments/": {
            "booking": world["unpaid_booking_id"],
            "kind": "deposit",
            "amount": Booking.objects.get(pk=world["unpaid_booking_id"]).deposit_due,
        },
        "/api/v1/reviews/": {
            "booking": world["booking_id"],
            "rating": 5,
            "title": "t",
            "body": "b",
        },
    }


def hostile_requests(path: str, method: str, bodies: dict) -> Iterator[tuple[tuple, dict]]:
    """(args, kwargs) of each hostile request to send to ``path`` with ``method``."""
    if method == "delete":
        yield (path,), {}
        return
    if method == "get":
        names = QUERY_PARAMETERS.get(path)
        for value in HOSTILE_QUERY:
            if names is None:  # reads none: all at once, to show they are ignored safely
                yield (path, dict.fromkeys(ALL_QUERY_NAMES, value)), {}
            for name in names or ():
                yield (path, {name: value}), {}
        return
    base = bodies.get(path, {})
    for field in base or ["booking", "amount", "id"]:
        for value in HOSTILE_VALUES:
            yield (path, json.dumps({**base, field: value})), {"content_type": "application/json"}


def test_hostile_input_on_every_route_is_never_a_500(world):
    # given a customer with bookings, a payment, a review; the catalogue can quote
    client = client_for(world["customer"])
    client.raise_request_exception = False
    bodies = valid_bodies(world)
    keys = itertools.count()
    statuses: collections.Counter[int] = collections.Counter()
    for path, method in route_calls(world):
        if path in NOT_SWEPT or method == "options":
            continue
        for args, kwargs in hostile_requests(path, method, bodies):
            # when
            key = f"hostile-key-{next(keys):08d}"
            response = getattr(client, method)(*args, HTTP_IDEMPOTENCY_KEY=key, **kwargs)
            # then
            assert response.status_code < 500, (method, args, response.content[:300])
            if response.status_code >= 400:
                assert_json_body(response, path)
            statuses[response.status_code] += 1
    # Every request was answered by the code that reads it: authenticated until the last
    # DELETE, and many of them valid but for the hostile value.
    assert statuses.total() > 500
    assert statuses[401] == 0, statuses
    assert statuses[200] + statuses[201] > 50, statuses


# Odd headers and encodings, sent to every route and method.
ODD_REQUESTS: list[dict[str, object]] = [
    {"method": "options"},
    {"method": "head"},
    {"method": "post", "data": b"\xff\xfe{", "content_type": "application/json"},
    {"method": "post", "data": b'{"a": "\\ud800"}', "content_type": "application/json"},
    {"method": "post", "data": b"{}", "content_type": "application/json; charset=latin-1"},
    {
        "method": "post",
        "data": b"{}",
        "content_type": "application/json",
        "HTTP_IDEMPOTENCY_KEY": "\x00\u00e9" * 10,
    },
    {"method": "get", "HTTP_AUTHORIZATION": "Token \x00"},
    {"method": "get", "HTTP_AUTHORIZATION": "Token " + "a" * 5000},
    {"method": "get", "HTTP_AUTHORIZATION": "Token a b"},
    {"method": "get", "HTTP_IF_NONE_MATCH": "\x00" * 100},
    {"method": "get", "QUERY_STRING": "cursor=%ff&page_size=%00&rating=%ff&limit=%ff"},
    {"method": "get", "HTTP_X_FORWARDED_FOR": "\x00, 999.1.1.1"},
    {"method": "get", "HTTP_ACCEPT": "*/*;q=abc"},
]


def test_odd_headers_and_encodings_on_every_route_are_never_a_500(world):
    # OPTIONS on the docs page was a 500: its HTML template renderer got DRF's metadata.
    client = client_for(world["customer"])
    client.raise_request_exception = False
    failures = []
    for path, _ in concrete_paths(world):
        for odd in ODD_REQUESTS:
            extra = dict(odd)
            method, data = extra.pop("method"), extra.pop("data", None)
            args = (path,) if data is None else (path, data)
            # when
            response = getattr(client, method)(*args, **extra)
            # then
            if response.status_code >= 500:
                failures.append((method, path, sorted(extra), response.status_code))
            elif response.status_code >= 400 and method != "head":
                assert_json_body(response, path)
    assert not failures
