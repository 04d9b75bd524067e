"""The admin and /metrics are closed to anyone without their own credentials.

tests/core/observability/test_metrics_endpoint.py covers /metrics by network and by its bearer
token; here: that other credentials of ours (a customer's API token, a staff session) do not
open it. For the admin: every page of every registered model, the operations dashboard and the
admin's JSON endpoints, for an anonymous visitor, a logged-in customer and staff without the
model's permissions.
"""

import pytest
from django.contrib import admin
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

OUTSIDER = "203.0.113.9"


def model_pages() -> list[str]:
    """The changelist and add page of every registered model."""
    pages = []
    for model in admin.site._registry:
        meta = model._meta
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    return pages


SITE_PAGES = [
    reverse("admin:index"),
    reverse("admin-operations"),
    reverse("admin:password_change"),
    reverse("admin:jsi18n"),
    reverse("admin:autocomplete") + "?app_label=bookings&model_name=booking&field_name=customer",
]
MODEL_PAGES = model_pages()
PAGES = SITE_PAGES + MODEL_PAGES


@pytest.fixture
def someones_email(customer) -> bytes:
    """A customer's e-mail address, which no admin page may show to an outsider."""
    return customer.email.encode()


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_the_login(client, someones_email, page):
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    assert someones_email not in response.content


@pytest.mark.parametrize("page", PAGES)
def test_a_logged_in_customer_is_no_staff(client, customer, someones_email, page):
    # given a customer's valid session (they log in to nothing else, but sessions are shared)
    client.force_login(customer)
    # then every admin page is the login page for them
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    assert someones_email not in response.content


@pytest.mark.parametrize("page", MODEL_PAGES)
def test_staff_without_the_models_permissions_are_refused(client, someones_email, page):
    # given a staff account that was given no permission on any model
    clerk = User.objects.create_user(email="clerk@example.com", password=PASSWORD, name="Clerk")
    clerk.is_staff = True
    clerk.save(update_fields=["is_staff"])
    client.force_login(clerk)
    # then the models' pages refuse them
    response = client.get(page)
    assert response.status_code == 403
    assert someones_email not in response.content


def test_a_customers_api_token_does_not_open_metrics(client, customer):
    # given a customer's valid API token, presented from outside the operators' networks
    token, _ = Token.objects.get_or_create(user=customer)
    for authorization in (f"Bearer {token.key}", f"Token {token.key}"):
        response = client.get("/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION=authorization)
        # then it is no metrics credential
        assert response.status_code == 403
        assert b"http_requests_total" not in response.content


def test_a_staff_session_does_not_open_metrics(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDER)
    assert response.status_code == 403
