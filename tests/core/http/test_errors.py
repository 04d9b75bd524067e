"""The error body of API.md on every path a request can fail, never a 500."""

import datetime

import pytest
from django.test import override_settings

from tests.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/register/", '{"email": '),
        ("/api/v1/auth/token/", "{'single': 'quotes'}"),
        ("/api/v1/bookings/quote/", "NaN"),
        ("/api/v1/bookings/quote/", '{"adults": Infinity}'),
    ],
)
def test_malformed_json_is_400(api_client, path, body):
    response = api_client.post(path, body, content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_non_object_json_is_400(api_client):
    response = api_client.post("/api/v1/auth/token/", "[1, 2]", content_type="application/json")
    assert_error(response, 400, "validation_error")


def test_unsupported_media_type_is_415(api_client):
    response = api_client.post("/api/v1/auth/token/", "email=a", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_oversized_body_is_413(api_client):
    body = '{"email": "a@example.com", "password": "' + "x" * 2000 + '", "name": "n"}'
    response = api_client.post("/api/v1/auth/register/", body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_wrong_method_is_405(api_client):
    assert_error(api_client.put("/api/v1/packages/", {}, format="json"), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/bookings/abc/", "/nowhere"])
def test_unknown_urls_are_json_404(client, path):
    response = client.get(path)
    assert_error(response, 404, "not_found")
    assert response.headers["Content-Type"] == "application/json"


def test_invalid_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token nonsense")
    assert_error(api_client.get("/api/v1/auth/me/"), 401, "authentication_failed")


@pytest.mark.parametrize("error", ["OperationalError", "InterfaceError"])
def test_an_unreachable_database_is_503_with_retry_after(api_client, monkeypatch, error):
    # given the primary database cannot be reached (restarting: connection refused)
    from django import db

    def unreachable(**kwargs):
        raise getattr(db, error)("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr("bookings.api.views.selectors.availability_for_range", unreachable)
    # when a request needs it, then it fails cleanly: 503, the API.md body, Retry-After
    start = datetime.date.today() + datetime.timedelta(days=10)
    end = start + datetime.timedelta(days=5)
    response = api_client.get(f"/api/v1/bookings/availability/?start={start}&end={end}")
    assert_error(response, 503, "database_unavailable")
    assert int(response.headers["Retry-After"]) > 0
