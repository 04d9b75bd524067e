"""CSRF: a logged-in browser's cookies are not enough to write.

A page on another site can make the customer's browser send a POST with the session cookie;
it cannot read our CSRF cookie to echo it in ``X-CSRFToken``. Every session-authenticated write
must therefore be refused without the token, change nothing, and succeed with it (so the test
proves the check, not some other refusal).
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bookings.models import Booking
from payments.models import Payment
from reviews.models import Review
from tests.bookings.conftest import make_booking, order
from tests.conftest import assert_error
from tests.reviews.factories import make_booking as make_completed_booking
from tests.security.conftest import csrf_token

pytestmark = pytest.mark.django_db


@dataclass
class Write:
    """One write: ``send(client, **headers)`` makes the request, ``done()`` says whether it
    changed the database."""

    send: Callable[..., object]
    done: Callable[[], bool]
    status: int


def booking_create(catalogue, customer) -> Write:
    return Write(
        send=lambda c, **h: c.post("/api/v1/bookings/", order(catalogue), format="json", **h),
        done=lambda: Booking.objects.exists(),
        status=201,
    )


def booking_cancel(catalogue, customer) -> Write:
    booking = make_booking(catalogue, customer)
    return Write(
        send=lambda c, **h: c.post(f"/api/v1/bookings/{booking.pk}/cancel/", **h),
        done=lambda: Booking.objects.get(pk=booking.pk).status == Booking.Status.CANCELLED,
        status=200,
    )


def payment_create(catalogue, customer) -> Write:
    booking = make_booking(catalogue, customer)
    body = {"booking": booking.pk, "kind": "deposit", "amount": booking.deposit_due}
    return Write(
        send=lambda c, **h: c.post(
            "/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="csrf-1", **h
        ),
        done=lambda: Payment.objects.exists(),
        status=201,
    )


def review_create(catalogue, customer) -> Write:
    booking = make_completed_booking(customer=customer)
    body = {"booking": booking.pk, "rating": 5, "title": "Great", "body": "Loved it."}
    return Write(
        send=lambda c, **h: c.post("/api/v1/reviews/", body, format="json", **h),
        done=lambda: Review.objects.exists(),
        status=201,
    )


def token_revoke(catalogue, customer) -> Write:
    Token.objects.get_or_create(user=customer)
    return Write(
        send=lambda c, **h: c.delete("/api/v1/auth/token/", **h),
        done=lambda: not Token.objects.filter(user=customer).exists(),
        status=204,
    )


WRITES = [booking_create, booking_cancel, payment_create, review_create, token_revoke]


@pytest.mark.parametrize("make_write", WRITES, ids=lambda f: f.__name__)
def test_a_session_write_without_the_token_is_refused(browser, catalogue, customer, make_write):
    # given a logged-in customer's browser and a write it could be tricked into sending
    write = make_write(catalogue, customer)
    # when the request carries the session cookie but no CSRF token
    response = write.send(browser)
    # then it is refused with the error body, and nothing changed
    body = assert_error(response, 403, "permission_denied")
    assert "CSRF" in body["message"]
    assert not write.done()


@pytest.mark.parametrize("make_write", WRITES, ids=lambda f: f.__name__)
def test_the_same_write_with_the_token_succeeds(browser, catalogue, customer, make_write):
    # given the token one of our pages handed this browser
    write = make_write(catalogue, customer)
    token = csrf_token(browser)
    # when the write echoes it
    response = write.send(browser, HTTP_X_CSRFTOKEN=token)
    # then it goes through: the refusal above was the CSRF check
    assert response.status_code == write.status, response.content[:300]
    assert write.done()


def test_a_token_sent_from_another_site_is_refused(browser, catalogue, customer):
    # given a valid token, but a request whose browser says it comes from another site
    write = booking_create(catalogue, customer)
    token = csrf_token(browser)
    headers = {"HTTP_X_CSRFTOKEN": token, "secure": True}
    response = write.send(browser, HTTP_ORIGIN="https://evil.example", **headers)
    # then it is refused too (Django's Origin check), and nothing changed
    body = assert_error(response, 403, "permission_denied")
    assert "Origin checking failed" in body["message"]
    assert not write.done()
    # while the same request from our own origin passes
    assert write.send(browser, HTTP_ORIGIN="https://testserver", **headers).status_code == 201


def test_token_clients_need_no_csrf_token(catalogue, customer):
    # given an app authenticating with its API token (no cookie a third party could ride on)
    client = APIClient(enforce_csrf_checks=True)
    token, _ = Token.objects.get_or_create(user=customer)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    # when it writes without a CSRF token, then it is not refused
    response = client.post("/api/v1/bookings/", order(catalogue), format="json")
    assert response.status_code == 201, response.content[:300]


class TestAdmin:
    def run_action(self, client, booking, **headers):
        return client.post(
            reverse("admin:bookings_booking_changelist"),
            {"action": "confirm_bookings", "_selected_action": [booking.pk], **headers},
        )

    def test_an_admin_action_without_the_token_is_refused(self, staff_browser, catalogue, customer):
        # given a staff member's logged-in browser and a pending booking
        booking = make_booking(catalogue, customer)
        # when a forged form posts the confirm action without the token
        response = self.run_action(staff_browser, booking)
        # then Django refuses it and the booking is untouched
        assert response.status_code == 403
        booking.refresh_from_db()
        assert booking.status == Booking.Status.PENDING

    def test_with_the_token_the_action_runs(self, staff_browser, catalogue, customer):
        booking = make_booking(catalogue, customer)
        token = csrf_token(staff_browser, reverse("admin:bookings_booking_changelist"))
        response = self.run_action(staff_browser, booking, csrfmiddlewaretoken=token)
        assert response.status_code == 302
        booking.refresh_from_db()
        assert booking.status == Booking.Status.CONFIRMED
