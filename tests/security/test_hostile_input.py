"""SQL-injection-looking and oversized input: a 4xx with the API.md error body, never a 5xx,
and nothing read or written beyond what the request was entitled to.

Free text (an address, a search) may legitimately contain quotes and SQL words: there the
proof is that the text is stored or searched for *as text* (parameterised queries) and nothing
else changed. Fields with a type (ids, dates, ratings, e-mail addresses) refuse it with 400.
Runs on the real PostgreSQL too, whose text type refuses NUL bytes that SQLite accepts.
"""

import json
from urllib.parse import quote

import pytest
from django.urls import reverse

from accounts.models import User
from blog.models import Post
from bookings.models import Booking
from tests.bookings.conftest import make_booking, order
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db

INJECTIONS = [
    "' OR '1'='1",
    "1 OR 1=1",
    "1; DROP TABLE bookings_booking; --",
    "x' UNION SELECT email, password FROM accounts_user --",
    "\\'; SELECT pg_sleep(10); --",
    "%' AND 1=0 UNION ALL SELECT NULL --",
    "admin'/*",
    "nul\x00byte",
]


def no_server_error(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:300])


@pytest.fixture
def published_post(db) -> Post:
    author = User.objects.create_user(email="author@example.com", password="x" * 12, name="A")
    return Post.objects.create(
        author=author,
        title="Teppanyaki at home",
        slug="teppanyaki-at-home",
        body="Fried rice and a volcano.",
        status=Post.Status.PUBLISHED,
        published_at="2026-01-01T18:00:00Z",
    )


@pytest.mark.parametrize("text", INJECTIONS)
class TestQueryParameters:
    def test_search_finds_nothing_rather_than_everything(self, api_client, published_post, text):
        # when a search or tag filter is an injection attempt
        for params in ({"q": text}, {"tag": text}):
            response = api_client.get("/api/v1/blog/posts/", params)
            # then it is refused or matches nothing: the post is not leaked by a widened query
            no_server_error(response)
            if response.status_code == 200:
                assert response.json()["results"] == [], params
            else:
                assert_error(response, 400, "validation_error")

    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/reviews/?rating={}",
            "/api/v1/bookings/availability/?start={}&end=2026-01-02",
            "/api/v1/blog/posts/featured/?limit={}",
            "/api/v1/bookings/?page_size={}",
        ],
    )
    def test_typed_parameters_are_400(self, customer_client, path, text):
        response = customer_client.get(path.format(quote(text)))
        assert_error(response, 400, "validation_error")

    def test_ids_in_the_path_are_404(self, customer_client, catalogue, customer, text):
        make_booking(catalogue, customer)
        for path in ("/api/v1/bookings/{}/", "/api/v1/payments/{}/", "/api/v1/blog/posts/{}/"):
            response = customer_client.get(path.format(quote(text, safe="")))
            assert_error(response, 404, "not_found")


@pytest.mark.parametrize("text", INJECTIONS)
class TestBodies:
    def test_login_with_an_injected_email_is_refused(self, api_client, customer, text):
        for body in (
            {"email": text, "password": text},
            {"email": customer.email, "password": text},
        ):
            response = api_client.post("/api/v1/auth/token/", body, format="json")
            assert response.status_code == 400, response.content[:300]
            assert "token" not in response.json()

    def test_typed_fields_refuse_it(self, customer_client, catalogue, text):
        for field in ("package", "event_date", "start_time", "adults", "postcode"):
            body = order(catalogue, **{field: text})
            response = customer_client.post("/api/v1/bookings/quote/", body, format="json")
            no_server_error(response)
            assert 400 <= response.status_code < 500, (field, response.content[:300])
        assert not Booking.objects.exists()

    def test_free_text_is_stored_as_text(self, customer_client, catalogue, text):
        # when an address and notes carry an injection attempt
        response = customer_client.post(
            "/api/v1/bookings/", order(catalogue, address=text, notes=text), format="json"
        )
        no_server_error(response)
        if "\x00" in text:
            # PostgreSQL cannot store NUL in text: refused up front, on SQLite too
            assert_error(response, 400, "validation_error")
            assert not Booking.objects.exists()
            return
        # then the booking is made with exactly that text, and nothing else happened
        assert response.status_code == 201, response.content[:300]
        assert Booking.objects.get().address == text
        assert User.objects.count() == 1


class TestOversized:
    def test_a_deeply_nested_body_is_400(self, customer_client, catalogue):
        # a small body (well under the size limit) that nests deeper than any parser's stack
        depth = 50_000
        body = '{"notes": ' + "[" * depth + "]" * depth + "}"
        response = customer_client.post(
            "/api/v1/bookings/quote/", body, content_type="application/json"
        )
        assert_error(response, 400, "malformed_request")

    def test_too_many_query_parameters_are_400(self, api_client):
        query = "&".join(f"p{n}=1" for n in range(2_000))
        response = api_client.get(f"/api/v1/reviews/?{query}")
        no_server_error(response)
        assert response.status_code == 400

    @pytest.mark.parametrize("field", ["address", "notes", "postcode"])
    def test_overlong_text_fields_are_400(self, customer_client, catalogue, field):
        response = customer_client.post(
            "/api/v1/bookings/", order(catalogue, **{field: "x" * 100_000}), format="json"
        )
        assert_error(response, 400, "validation_error")
        assert not Booking.objects.exists()

    def test_an_overlong_search_is_400(self, api_client):
        assert_error(
            api_client.get("/api/v1/blog/posts/", {"q": "sauce " * 5_000}), 400, "validation_error"
        )

    def test_an_overlong_path_is_404(self, api_client):
        assert_error(api_client.get("/api/v1/blog/posts/" + "a" * 10_000 + "/"), 404, "not_found")

    def test_an_overlong_token_is_401(self, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Token " + "a" * 100_000)
        assert_error(api_client.get("/api/v1/auth/me/"), 401, "authentication_failed")

    def test_a_huge_integer_is_400(self, customer_client, catalogue):
        response = customer_client.post(
            "/api/v1/bookings/quote/",
            json.dumps(order(catalogue, adults=10**100)),
            content_type="application/json",
        )
        assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("text", INJECTIONS)
def test_the_admin_search_treats_it_as_text(client, staff_user, catalogue, customer, text):
    # given staff searching bookings with an injection attempt
    make_booking(catalogue, customer)
    client.force_login(staff_user)
    response = client.get(reverse("admin:bookings_booking_changelist"), {"q": text})
    # then the page answers, and the text matched nothing (Django's search form drops a term
    # with a NUL byte, as PostgreSQL could not compare it: staff then see the unfiltered list)
    no_server_error(response)
    assert response.status_code == 200
    assert response.context["cl"].result_count == (1 if "\x00" in text else 0)
