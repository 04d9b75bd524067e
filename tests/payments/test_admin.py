import pytest
from django.urls import reverse

from payments.models import Payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_staff_mark_a_manual_payment_succeeded(staff_client, customer_client, booking):
    # given a pending manual deposit
    customer_client.post(
        "/api/v1/payments/",
        {"booking": booking.pk, "kind": "deposit", "amount": booking.deposit_due},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    payment = Payment.objects.get()
    # when staff mark it received
    staff_client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "mark_succeeded", "_selected_action": [payment.pk]},
    )
    # then it counts towards the booking's amount paid
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    detail = customer_client.get(f"/api/v1/bookings/{booking.pk}/").json()
    assert detail["amount_paid"] == booking.deposit_due


def test_staff_record_a_cash_refund(staff_client, customer_client, booking):
    Payment.objects.create(
        booking=booking, kind="deposit", amount=5000, provider="manual", status="succeeded"
    )
    response = staff_client.post(
        reverse("admin:payments_payment_add"),
        {
            "booking": booking.pk,
            "kind": "refund",
            "amount": 2000,
            "currency": "USD",
            "provider": "manual",
            "provider_reference": "",
        },
    )
    assert response.status_code == 302
    refund = Payment.objects.get(kind="refund")
    # A recorded refund starts pending; marking it succeeded reduces the amount paid.
    staff_client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "mark_succeeded", "_selected_action": [refund.pk]},
    )
    detail = customer_client.get(f"/api/v1/bookings/{booking.pk}/").json()
    assert detail["amount_paid"] == 3000


@pytest.mark.parametrize("page", ["payment", "providerevent"])
def test_pages_load(staff_client, page):
    assert staff_client.get(reverse(f"admin:payments_{page}_changelist")).status_code == 200
