"""Failed authentication counts per address, and every answer of a throttled route carries the
RateLimit headers, the refusals before the view (401, 403) too. Real Redis, injected clock."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from core.throttling.throttles import RateLimitThrottle
from tests.conftest import PASSWORD, assert_error, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("throttling")]

ME = "/api/v1/auth/me/"
BOOKINGS = "/api/v1/bookings/"
AUTH_FAILURES_PER_MINUTE = 20  # auth_failures_ip
BAD_TOKEN = {"HTTP_AUTHORIZATION": "Token 0123456789abcdef0123456789abcdef01234567"}


class TestBadTokens:
    def test_n_bad_tokens_answer_401_then_429(self, api_client, customer, fresh_ip):
        # when one address sends N + 5 guessed tokens within a minute
        answers = [api_client.get(ME, REMOTE_ADDR=fresh_ip, **BAD_TOKEN) for _ in range(25)]
        # then exactly N are told "invalid token", the rest are refused with the API.md body
        statuses = [r.status_code for r in answers]
        assert statuses == [401] * AUTH_FAILURES_PER_MINUTE + [429] * 5
        body = assert_error(answers[-1], 429, "throttled")
        assert body["message"]
        assert answers[-1]["Retry-After"] == "60"
        assert answers[-1]["RateLimit-Policy"] == '"auth_failures_ip_60";q=20;w=60'
        assert answers[-1]["RateLimit"] == '"auth_failures_ip_60";r=0;t=60'

    def test_a_good_token_from_another_address_is_unaffected(self, customer, fresh_ip):
        guesser = APIClient()
        for _ in range(AUTH_FAILURES_PER_MINUTE + 5):
            guesser.get(ME, REMOTE_ADDR=fresh_ip, **BAD_TOKEN)
        response = client_for(customer).get(ME, REMOTE_ADDR="198.51.99.200")
        assert response.status_code == 200
        assert response.json()["email"] == customer.email

    def test_while_spent_a_good_token_from_that_address_is_refused_too(self, customer, fresh_ip):
        # otherwise a 200 among the 429s would tell the guesser it found a token
        guesser = APIClient()
        for _ in range(AUTH_FAILURES_PER_MINUTE):
            guesser.get(ME, REMOTE_ADDR=fresh_ip, **BAD_TOKEN)
        assert_error(client_for(customer).get(ME, REMOTE_ADDR=fresh_ip), 429, "throttled")

    def test_the_budget_comes_back_with_the_window(self, api_client, customer, fresh_ip, clock):
        for _ in range(AUTH_FAILURES_PER_MINUTE + 1):
            api_client.get(ME, REMOTE_ADDR=fresh_ip, **BAD_TOKEN)
        clock.now += 61
        assert api_client.get(ME, REMOTE_ADDR=fresh_ip, **BAD_TOKEN).status_code == 401
        assert client_for(customer).get(ME, REMOTE_ADDR=fresh_ip).status_code == 200

    def test_valid_tokens_are_not_charged(self, customer, fresh_ip):
        client = client_for(customer)
        assert all(
            client.get(ME, REMOTE_ADDR=fresh_ip).status_code == 200 for _ in range(50)
        )  # more than the failures budget, all fine
        # and the headers describe the customer's own limits, not the failures budget
        assert client.get(ME, REMOTE_ADDR=fresh_ip)["RateLimit"].startswith('"user_60"')


def _api_routes() -> list[str]:
    """Every throttled API route, with its parameters filled in (objects that do not exist)."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    routes = []
    for route, callback in walk(get_resolver().url_patterns):
        view = getattr(callback, "cls", None)
        if not route.startswith("api/") or view is None:
            continue
        if not any(isinstance(t, RateLimitThrottle) for t in view().get_throttles()):
            continue
        path = route.replace("<int:booking_id>", "999999").replace("<int:payment_id>", "999999")
        routes.append("/" + path.replace("<slug:slug>", "no-such-post"))
    return routes


ROUTES = _api_routes()


def test_the_route_walk_found_the_api():
    assert len(ROUTES) >= 15
    assert "/api/v1/payments/webhooks/stripe/" not in ROUTES  # not throttled: the provider's


def _assert_headers(response, case):
    assert response.has_header("RateLimit-Policy"), (case, response.status_code)
    assert response.has_header("RateLimit"), (case, response.status_code)


@pytest.mark.parametrize("path", ROUTES)
def test_every_answer_of_a_throttled_route_has_ratelimit_headers(path, customer, fresh_ip):
    # given an anonymous client, a customer, and a client with a bad token
    seen = set()
    cases = {
        "anonymous GET": lambda: APIClient().get(path, REMOTE_ADDR=fresh_ip),
        "anonymous POST": lambda: APIClient().post(path, {}, format="json", REMOTE_ADDR=fresh_ip),
        "bad token GET": lambda: APIClient().get(path, REMOTE_ADDR=fresh_ip, **BAD_TOKEN),
        "bad token POST": lambda: APIClient().post(
            path, {}, format="json", REMOTE_ADDR=fresh_ip, **BAD_TOKEN
        ),
        "customer GET": lambda: client_for(customer).get(path, REMOTE_ADDR=fresh_ip),
        "customer POST": lambda: client_for(customer).post(
            path, {"x": 1}, format="json", REMOTE_ADDR=fresh_ip
        ),
        "customer DELETE": lambda: client_for(customer).delete(path, REMOTE_ADDR=fresh_ip),
    }
    # when each sends what it sends; then whatever the answer, it has the headers
    for case, send in cases.items():
        response = send()
        _assert_headers(response, case)
        seen.add(response.status_code)
    assert seen & {401, 403, 404, 400, 405}


def test_the_answers_the_walk_covers(customer, fresh_ip):
    """The walk above meets each kind of answer the issue names (2xx, 400, 401, 404, 405)."""
    statuses = set()
    for path in ROUTES:
        for response in (
            APIClient().get(path, REMOTE_ADDR=fresh_ip, **BAD_TOKEN),
            client_for(customer).get(path, REMOTE_ADDR="198.51.99.7"),
            client_for(customer).post(path, {"x": 1}, format="json", REMOTE_ADDR="198.51.99.8"),
        ):
            statuses.add(response.status_code)
    assert {200, 400, 401, 404, 405} <= statuses


def test_a_403_has_the_headers(customer, fresh_ip):
    # a browser's session without the CSRF token: refused in authentication, before the view
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(customer)
    response = browser.post(BOOKINGS, {}, format="json", REMOTE_ADDR=fresh_ip)
    assert_error(response, 403, "permission_denied")
    _assert_headers(response, "csrf")


def test_a_401_without_credentials_has_the_headers_and_counts(api_client, fresh_ip):
    response = api_client.get(ME, REMOTE_ADDR=fresh_ip)
    assert_error(response, 401, "not_authenticated")
    assert response["RateLimit"] == '"anon_60";r=99;t=60'


def test_the_admin_login_answers_have_the_headers(client, staff_user, fresh_ip):
    wrong = client.post(
        "/admin/login/", {"username": staff_user.email, "password": "x"}, REMOTE_ADDR=fresh_ip
    )
    assert wrong.status_code == 200
    _assert_headers(wrong, "admin wrong password")
    right = client.post(
        "/admin/login/",
        {"username": staff_user.email, "password": PASSWORD},
        REMOTE_ADDR=fresh_ip,
    )
    assert right.status_code == 302
    _assert_headers(right, "admin login")


def test_a_bad_token_refused_for_its_accept_header_is_charged_too(api_client, fresh_ip):
    # content negotiation refuses before authentication; the token is still checked and charged
    answers = [
        api_client.get(ME, REMOTE_ADDR=fresh_ip, HTTP_ACCEPT="text/csv", **BAD_TOKEN)
        for _ in range(AUTH_FAILURES_PER_MINUTE + 1)
    ]
    assert [r.status_code for r in answers] == [406] * AUTH_FAILURES_PER_MINUTE + [429]
    _assert_headers(answers[0], "406")
