"""A client generated from the live schema walks the customer journey against a real server.

openapi-python-client (pinned in requirements-dev.txt) generates a typed client from
``/api/schema/`` of a running server; the journey uses only that client and its typed models.
A schema lie fails here the way it fails a customer's app: an undeclared query parameter is
a page the client cannot ask for, a required field never sent is a ``KeyError`` while parsing,
an always-sent field declared optional is an ``X | Unset`` attribute (``assert_all_declared``),
an undeclared status raises ``UnexpectedStatus``.
"""

import datetime
import importlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest

from blog import services as blog_services
from reviews.models import Review
from tests.bookings.conftest import Catalogue, catalogue, days_ahead  # noqa: F401 (fixture)
from tests.conftest import PASSWORD, make_customer
from tests.reviews.factories import make_booking as make_past_booking
from tests.reviews.factories import make_review

PACKAGE = "myhibachi_client"
# No post hooks: the generator would otherwise run ruff on the output (not needed to import).
GENERATOR_CONFIG = f"post_hooks: []\npackage_name_override: {PACKAGE}\n"


@pytest.fixture
def api(live_server, tmp_path) -> Iterator[ModuleType]:
    """The client package generated from the live server's schema, imported."""
    with urllib.request.urlopen(f"{live_server.url}/api/schema/?format=json", timeout=30) as r:
        schema = json.load(r)
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "config.yaml").write_text(GENERATOR_CONFIG)
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(tmp_path / "schema.json"),
            "--config",
            str(tmp_path / "config.yaml"),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / PACKAGE),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def assert_all_declared(model: Any) -> None:
    """Every attribute of a generated response model is declared required (no ``Unset``
    default) and nothing arrived undeclared, recursively: the answer is what the schema says."""
    if isinstance(model, list):
        for item in model:
            assert_all_declared(item)
        return
    if not attrs.has(type(model)):
        return
    for field in attrs.fields(type(model)):
        if field.name == "additional_properties":
            assert getattr(model, field.name) == {}, f"{type(model).__name__}: undeclared keys"
            continue
        assert field.default is attrs.NOTHING, f"{type(model).__name__}.{field.name} optional"
        assert_all_declared(getattr(model, field.name))


def cursor_of(link: str | None) -> str:
    assert link is not None
    return parse_qs(urlsplit(link).query)["cursor"][0]


@pytest.fixture
def content(catalogue: Catalogue) -> Catalogue:  # noqa: F811
    """Three published posts and three approved reviews: two pages of each at one a page."""
    author = make_customer("kenji@example.com", name="Kenji")
    for number in range(3):
        post = blog_services.post_create(
            author=author, title=f"Hibachi night {number}", body="Grill and show.", tags=["fun"]
        )
        blog_services.post_publish(
            post=post,
            published_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=number),
        )
    reviewer = make_customer("reviewer@example.com", name="Riley")
    for rating in (5, 4, 3):
        make_review(
            customer=reviewer,
            booking=make_past_booking(customer=reviewer, package=catalogue.package),
            rating=rating,
            status=Review.Status.APPROVED,
        )
    return catalogue


def test_customer_journey_through_the_generated_client(api, live_server, content):
    client_module = module(api, "client")
    models = module(api, "models")
    endpoints = {
        name: module(api, f"api.v1.{name}")
        for name in (
            "v1_auth_register_create",
            "v1_auth_token_create",
            "v1_auth_me_retrieve",
            "v1_blog_posts_list",
            "v1_packages_list",
            "v1_bookings_availability_list",
            "v1_bookings_quote_create",
            "v1_bookings_create",
            "v1_bookings_list",
            "v1_payments_create",
            "v1_bookings_cancel_create",
            "v1_reviews_list",
        )
    }
    anonymous = client_module.Client(base_url=live_server.url, raise_on_unexpected_status=True)

    # register, then log in for a token
    user = endpoints["v1_auth_register_create"].sync(
        client=anonymous,
        body=models.RegisterInputRequest(email="gen@example.com", password=PASSWORD, name="Gen"),
    )
    assert isinstance(user, models.User) and user.email == "gen@example.com"
    assert_all_declared(user)
    token = endpoints["v1_auth_token_create"].sync(
        client=anonymous,
        body=models.TokenInputRequest(email="gen@example.com", password=PASSWORD),
    )
    assert isinstance(token, models.Token)
    me = client_module.AuthenticatedClient(
        base_url=live_server.url, token=token.token, prefix="Token", raise_on_unexpected_status=True
    )
    assert endpoints["v1_auth_me_retrieve"].sync(client=me).id == user.id

    # the blog: page 1, then page 2 through the cursor of page 1's next link
    posts = endpoints["v1_blog_posts_list"]
    first = posts.sync(client=anonymous, page_size=2)
    assert isinstance(first, models.PaginatedPostSummaryList)
    assert_all_declared(first)
    assert len(first.results) == 2 and first.previous is None
    second = posts.sync(client=anonymous, page_size=2, cursor=cursor_of(first.next_))
    assert [p.title for p in second.results] == ["Hibachi night 2"]
    assert second.next_ is None and second.previous is not None

    # a package, the availability of three evenings and a quote
    (package,) = endpoints["v1_packages_list"].sync(client=anonymous)
    assert_all_declared(package)
    assert package.min_guests <= 10 <= package.max_guests and package.currency == "USD"
    dates = [days_ahead(10 + n) for n in range(3)]
    days = endpoints["v1_bookings_availability_list"].sync(
        client=anonymous, start=dates[0], end=dates[-1]
    )
    assert_all_declared(days)
    assert [day.date for day in days] == dates
    assert all(day.slots[0].remaining == 2 for day in days)
    start_time = days[0].slots[0].start_time
    quote = endpoints["v1_bookings_quote_create"].sync(
        client=anonymous,
        body=models.QuoteInputRequest(
            package=package.id,
            event_date=dates[0],
            start_time=start_time,
            adults=10,
            children=2,
            postcode="90012",
        ),
    )
    assert isinstance(quote, models.Quote) and quote.total > 0

    # three bookings, one an evening
    bookings = [
        endpoints["v1_bookings_create"].sync(
            client=me,
            body=models.BookingInputRequest(
                package=package.id,
                event_date=date,
                start_time=start_time,
                adults=10,
                children=2,
                postcode="90012",
                address="1 Grand Ave, Los Angeles",
                notes="Nut allergy",
            ),
        )
        for date in dates
    ]
    for booking in bookings:
        assert isinstance(booking, models.Booking)
        assert_all_declared(booking)
        assert booking.status == models.BookingStatusEnum.PENDING
        assert booking.children == 2 and booking.notes == "Nut allergy"
    assert bookings[0].quote.total == quote.total

    # my bookings, page 2
    mine = endpoints["v1_bookings_list"]
    page = mine.sync(client=me, page_size=2)
    assert_all_declared(page)
    assert [b.id for b in page.results] == [bookings[2].id, bookings[1].id]
    page = mine.sync(client=me, page_size=2, cursor=cursor_of(page.next_))
    assert [b.id for b in page.results] == [bookings[0].id] and page.next_ is None

    # pay the deposit, then the same request again: the first answer, replayed
    pay = endpoints["v1_payments_create"]
    body = models.PaymentInputRequest(
        booking=bookings[0].id,
        kind=models.PaymentInputKindEnum.DEPOSIT,
        amount=bookings[0].quote.deposit_due,
    )
    paid = pay.sync_detailed(client=me, body=body, idempotency_key="journey-deposit-1")
    assert paid.status_code == 201 and "Idempotent-Replayed" not in paid.headers
    assert isinstance(paid.parsed, models.PaymentCreated)
    assert_all_declared(paid.parsed)
    assert paid.parsed.status == models.PaymentStatusEnum.PENDING
    assert paid.parsed.currency == "USD"
    replay = pay.sync_detailed(client=me, body=body, idempotency_key="journey-deposit-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.parsed.id == paid.parsed.id

    # cancel one booking
    cancelled = endpoints["v1_bookings_cancel_create"].sync(client=me, booking_id=bookings[2].id)
    assert cancelled.status == models.BookingStatusEnum.CANCELLED

    # the reviews, page 1 and page 2
    reviews = endpoints["v1_reviews_list"]
    first = reviews.sync(client=anonymous, page_size=2)
    assert isinstance(first, models.PaginatedReviewList)
    assert_all_declared(first)
    assert [r.rating for r in first.results] == [3, 4]
    assert all(r.status == models.ReviewStatusEnum.APPROVED for r in first.results)
    assert all(isinstance(r.created_at, datetime.datetime) for r in first.results)
    second = reviews.sync(client=anonymous, page_size=2, cursor=cursor_of(first.next_))
    assert [r.rating for r in second.results] == [5]
