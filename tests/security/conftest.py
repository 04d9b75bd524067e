"""Fixtures for the security tests: browsers (session cookies, CSRF enforced) and the
throttling fixtures of tests/core/throttling, reused rather than copied."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from tests.bookings.conftest import catalogue  # noqa: F401 (fixture)
from tests.core.throttling.conftest import clock, fresh_ip, throttling  # noqa: F401 (fixtures)


def csrf_token(client: Client, page: str = "/admin/login/") -> str:
    """The token a page of ours with a form hands a browser (the ``csrftoken`` cookie)."""
    client.get(page)
    return client.cookies["csrftoken"].value


@pytest.fixture
def browser(customer: User) -> APIClient:
    """A customer's browser: logged in with the session cookie, CSRF checks enforced as in
    production (the test client skips them unless told)."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer)
    return client


@pytest.fixture
def staff_browser(staff_user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    return client
