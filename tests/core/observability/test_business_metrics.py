"""Business events move their counters once committed, and never for a rolled-back write."""

from __future__ import annotations

import pytest
from django.db import transaction

from blog import services as blog_services
from bookings.models import Booking
from payments import services as payment_services
from payments.errors import InvalidStatusTransition
from payments.models import Payment
from reviews import services as review_services
from reviews.errors import AlreadyReviewed
from tests.bookings.conftest import make_booking, order
from tests.core.observability.conftest import sample
from tests.reviews.factories import make_booking as make_completed_booking

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


class TestBlogPosts:
    def test_a_created_post_counts_once_committed(
        self, staff_user, django_capture_on_commit_callbacks
    ):
        before = sample("blog_posts_created_total")
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            blog_services.post_create(author=staff_user, title="Knife tricks", body="...")
            # not yet: the transaction has not committed
            assert sample("blog_posts_created_total") == before
        for callback in callbacks:
            callback()
        assert sample("blog_posts_created_total") == before + 1

    def test_a_rolled_back_post_counts_nothing(
        self, staff_user, django_capture_on_commit_callbacks
    ):
        before = sample("blog_posts_created_total")
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(Rollback),
            transaction.atomic(),
        ):
            blog_services.post_create(author=staff_user, title="Draft gone", body="...")
            raise Rollback
        assert sample("blog_posts_created_total") == before


class TestReviews:
    def test_a_submitted_review_counts(self, customer, django_capture_on_commit_callbacks):
        booking = make_completed_booking(customer=customer)
        before = sample("user_reviews_submitted_total")
        with django_capture_on_commit_callbacks(execute=True):
            review_services.review_submit(
                customer=customer, booking_id=booking.pk, rating=5, title="Wow", body="Great"
            )
        assert sample("user_reviews_submitted_total") == before + 1

    def test_a_duplicate_that_failed_its_insert_counts_nothing(
        self, customer, django_capture_on_commit_callbacks
    ):
        booking = make_completed_booking(customer=customer)
        fields = {
            "customer": customer,
            "booking_id": booking.pk,
            "rating": 4,
            "title": "t",
            "body": "b",
        }
        with django_capture_on_commit_callbacks(execute=True):
            review_services.review_submit(**fields)
        before = sample("user_reviews_submitted_total")
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(AlreadyReviewed):
            review_services.review_submit(**fields)
        assert sample("user_reviews_submitted_total") == before


class TestBookings:
    def test_a_booking_made_through_the_api_counts(
        self,
        catalogue,
        customer_client,
        django_capture_on_commit_callbacks,
    ):
        before = sample("bookings_created_total")
        with django_capture_on_commit_callbacks(execute=True):
            response = customer_client.post("/api/v1/bookings/", order(catalogue), format="json")
        assert response.status_code == 201, response.content
        assert sample("bookings_created_total") == before + 1

    def test_a_full_slot_counts_nothing(
        self,
        catalogue,
        customer,
        customer_client,
        django_capture_on_commit_callbacks,
    ):
        # given the slot's two teams are taken
        with django_capture_on_commit_callbacks(execute=True):
            make_booking(catalogue, customer)
            make_booking(catalogue, customer)
        before = sample("bookings_created_total")
        with django_capture_on_commit_callbacks(execute=True):
            response = customer_client.post("/api/v1/bookings/", order(catalogue), format="json")
        assert response.status_code == 409
        assert sample("bookings_created_total") == before


class TestPayments:
    def test_each_status_a_payment_enters_is_counted_by_provider(
        self,
        catalogue,
        customer,
        customer_client,
        django_capture_on_commit_callbacks,
    ):
        booking = make_booking(catalogue, customer)
        pending = {"provider": "manual", "status": "pending"}
        succeeded = {"provider": "manual", "status": "succeeded"}
        before_pending, before_succeeded = (
            sample("payments_total", pending),
            sample("payments_total", succeeded),
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = customer_client.post(
                "/api/v1/payments/",
                {"booking": booking.pk, "kind": "deposit", "amount": booking.deposit_due},
                format="json",
                HTTP_IDEMPOTENCY_KEY="metrics-1",
            )
        assert response.status_code == 201, response.content
        assert sample("payments_total", pending) == before_pending + 1
        with django_capture_on_commit_callbacks(execute=True):
            payment_services.payment_mark_succeeded(payment_id=response.json()["id"])
        assert sample("payments_total", succeeded) == before_succeeded + 1
        assert Payment.objects.get().status == Payment.Status.SUCCEEDED

    def test_a_refused_transition_counts_nothing(
        self,
        catalogue,
        customer,
        django_capture_on_commit_callbacks,
    ):
        booking = make_booking(catalogue, customer, status=Booking.Status.CONFIRMED)
        payment = Payment.objects.create(
            booking=booking,
            kind="deposit",
            amount=booking.deposit_due,
            provider="manual",
            status=Payment.Status.FAILED,
        )
        succeeded = {"provider": "manual", "status": "succeeded"}
        before = sample("payments_total", succeeded)
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(InvalidStatusTransition),
        ):
            payment_services.payment_mark_succeeded(payment_id=payment.pk)
        assert sample("payments_total", succeeded) == before
