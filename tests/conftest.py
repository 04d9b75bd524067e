"""Fixtures shared by the whole suite: API clients for anonymous users, customers and staff."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from core.cache import reset_local_state

pytest_plugins = ["tests.plugins.servers"]

PASSWORD = "hibachi-Grill-2026"


@pytest.fixture(autouse=True)
def _fresh_cache_tiers():
    """Each test starts without what an earlier one left in this process's cache tiers (the
    test harness empties Redis itself): L1 entries, trusted versions, the breaker's state."""
    reset_local_state()
    yield
    reset_local_state()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def make_customer(email: str = "customer@example.com", name: str = "Casey Customer") -> User:
    return User.objects.create_user(email=email, password=PASSWORD, name=name)


def client_for(user: User) -> APIClient:
    """An API client authenticated the way customers' apps are: a token, no cookies."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def customer(db) -> User:
    return make_customer()


@pytest.fixture
def other_customer(db) -> User:
    return make_customer(email="other@example.com", name="Olive Other")


@pytest.fixture
def customer_client(customer: User) -> APIClient:
    return client_for(customer)


@pytest.fixture
def other_client(other_customer: User) -> APIClient:
    return client_for(other_customer)


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create_superuser(
        email="staff@example.com", password=PASSWORD, name="Sam Staff"
    )


def assert_error(response, status: int, code: str) -> dict:
    """Assert the API.md error body: ``code`` and ``message`` (and ``errors`` for validation)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    if code == "validation_error":
        assert isinstance(body["errors"], dict) and body["errors"]
    return body
