"""Under /api/ every error is the API.md JSON body, with DEBUG on (``make run``) as with it off:
never Django's HTML debug pages (which list the URL patterns and settings), never a redirect."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import assert_error

pytestmark = pytest.mark.django_db

SECRET_MARKERS = (b"urlpatterns", b"SECRET_KEY", b"DEBUG = True", b"<html", b"Traceback")


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def client(request, settings) -> APIClient:
    """A client through the whole middleware chain, with DEBUG on and off."""
    settings.DEBUG = request.param
    client = APIClient(raise_request_exception=False)
    return client


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.headers["Content-Type"] == "application/json", response.content[:300]
    for marker in SECRET_MARKERS:
        assert marker not in response.content, marker
    return assert_error(response, status, code)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/",
        "/api/nope",
        "/api/v1/blog/posts/%00/",
        "/api/v1/blog/posts/%ff%fe/",
        "/api/v1/blog/posts/..%2F..%2Fsettings/",
        "/api/v1/bookings/%00/",
        "/api/v1/payments/%00/",
    ],
)
def test_unknown_paths_and_bad_slugs_are_a_json_404(client, path):
    response = client.get(path)
    assert_json_error(response, 404, "not_found")
    # the headers the chain set still hold for the JSON body
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]


def test_a_bad_host_is_a_json_400(client):
    # given a Host header that ALLOWED_HOSTS refuses (DisallowedHost)
    response = client.get("/api/v1/packages/", HTTP_HOST="evil.example")
    assert_json_error(response, 400, "bad_request")


def test_a_crash_is_a_json_500(client, monkeypatch):
    # given a view that fails unexpectedly
    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("bookings.api.views.selectors.availability_for_range", crash)
    # when
    response = client.get("/api/v1/bookings/availability/?start=2030-01-01&end=2030-01-02")
    # then no traceback or settings reach the client
    assert_json_error(response, 500, "server_error")


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_api_paths_without_their_slash_are_a_json_404_naming_the_path(client, method):
    response = getattr(client, method)("/api/v1/packages", {}, format="json")
    body = assert_json_error(response, 404, "not_found")
    assert "/api/v1/packages/" in body["message"]
    assert "Location" not in response.headers


def test_the_admin_keeps_its_slash_redirect(client):
    response = client.get("/admin")
    assert response.status_code == 301
    assert response.headers["Location"] == "/admin/"


def test_json_errors_of_views_pass_unchanged(client):
    # DRF's own answers keep their code and headers (here the Allow of a 405)
    response = client.delete("/api/v1/packages/")
    assert_json_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_a_non_json_error_under_api_keeps_its_status(client):
    # The schema view renders errors as YAML; under /api/ they become JSON.
    response = client.get("/api/schema/?format=nope")
    assert response.status_code == 404
    assert_json_error(response, 404, "not_found")
