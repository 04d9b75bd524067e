import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Booking
from core.http.errors import InvalidInput, NotFound
from reviews import services
from reviews.errors import AlreadyReviewed, ReviewNotAllowed
from reviews.models import Review
from tests.reviews.factories import make_booking, make_review

pytestmark = pytest.mark.django_db


def test_submit_creates_a_pending_review_of_own_completed_booking(customer):
    # given
    booking = make_booking(customer=customer)

    # when
    review = services.review_submit(
        customer=customer, booking_id=booking.pk, rating=4, title="Fun", body="Great food."
    )

    # then
    review.refresh_from_db()
    assert review.booking_id == booking.pk
    assert review.customer_id == customer.pk
    assert (review.rating, review.title, review.body) == (4, "Fun", "Great food.")
    assert review.status == Review.Status.PENDING
    assert review.moderated_at is None and review.moderated_by is None


def test_submit_for_someone_elses_booking_is_not_found(customer, other_customer):
    # given
    booking = make_booking(customer=other_customer)

    # when / then
    with pytest.raises(NotFound):
        services.review_submit(
            customer=customer, booking_id=booking.pk, rating=5, title="t", body="b"
        )
    assert not Review.objects.exists()


def test_submit_for_unknown_booking_is_not_found(customer):
    with pytest.raises(NotFound):
        services.review_submit(customer=customer, booking_id=999_999, rating=5, title="t", body="b")


@pytest.mark.parametrize(
    "status",
    [Booking.Status.PENDING, Booking.Status.CONFIRMED, Booking.Status.CANCELLED],
)
def test_submit_for_a_booking_that_is_not_completed_is_refused(customer, status):
    # given
    booking = make_booking(customer=customer, status=status)

    # when / then
    with pytest.raises(ReviewNotAllowed):
        services.review_submit(
            customer=customer, booking_id=booking.pk, rating=5, title="t", body="b"
        )
    assert not Review.objects.exists()


def test_a_second_review_of_the_same_booking_is_refused(customer):
    # given
    booking = make_booking(customer=customer)
    services.review_submit(customer=customer, booking_id=booking.pk, rating=5, title="t", body="b")

    # when / then
    with pytest.raises(AlreadyReviewed):
        services.review_submit(
            customer=customer, booking_id=booking.pk, rating=1, title="t2", body="b2"
        )
    assert Review.objects.get().rating == 5


def test_a_refused_duplicate_leaves_the_callers_transaction_usable(customer):
    # given
    booking = make_booking(customer=customer)
    make_review(customer=customer, booking=booking)

    # when
    with transaction.atomic():
        with pytest.raises(AlreadyReviewed):
            services.review_submit(
                customer=customer, booking_id=booking.pk, rating=1, title="t", body="b"
            )
        # then: the failed INSERT was rolled back to its savepoint only
        assert Review.objects.count() == 1


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_submit_refuses_a_rating_outside_1_to_5(customer, rating):
    booking = make_booking(customer=customer)

    with pytest.raises(InvalidInput):
        services.review_submit(
            customer=customer, booking_id=booking.pk, rating=rating, title="t", body="b"
        )


def test_database_refuses_a_rating_outside_1_to_5(customer):
    # given
    review = make_review(customer=customer)

    # when / then: the check constraint guards writes that bypass the service
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(rating=6)


def test_approve_publishes_reviews_and_records_the_moderator(customer, other_customer, staff_user):
    # given
    pending = make_review(customer=customer, status=Review.Status.PENDING)
    rejected = make_review(customer=other_customer, status=Review.Status.REJECTED)
    untouched = make_review(customer=customer, status=Review.Status.PENDING)
    now = timezone.now()

    # when
    count = services.review_approve(
        review_ids=[pending.pk, rejected.pk], moderator=staff_user, now=now
    )

    # then
    assert count == 2
    for review in (pending, rejected):
        review.refresh_from_db()
        assert review.status == Review.Status.APPROVED
        assert review.moderated_by_id == staff_user.pk
        assert review.moderated_at == now
    untouched.refresh_from_db()
    assert untouched.status == Review.Status.PENDING


def test_approve_counts_only_reviews_that_changed(customer, staff_user):
    # given
    earlier = timezone.now() - datetime.timedelta(days=1)
    approved = make_review(customer=customer, status=Review.Status.APPROVED, moderated_at=earlier)

    # when
    count = services.review_approve(review_ids=[approved.pk], moderator=staff_user)

    # then
    assert count == 0
    approved.refresh_from_db()
    assert approved.moderated_at == earlier


def test_reject_hides_reviews(customer, staff_user):
    # given
    approved = make_review(customer=customer, status=Review.Status.APPROVED)
    pending = make_review(customer=customer, status=Review.Status.PENDING)

    # when
    count = services.review_reject(review_ids=[approved.pk, pending.pk], moderator=staff_user)

    # then
    assert count == 2
    assert set(Review.objects.values_list("status", flat=True)) == {Review.Status.REJECTED}
    assert set(Review.objects.values_list("moderated_by", flat=True)) == {staff_user.pk}


def test_moderation_accepts_a_queryset_of_ids(customer, staff_user):
    # given
    make_review(customer=customer, status=Review.Status.PENDING, rating=1)
    make_review(customer=customer, status=Review.Status.PENDING, rating=5)

    # when
    count = services.review_approve(
        review_ids=Review.objects.filter(rating=5).values_list("pk", flat=True),
        moderator=staff_user,
    )

    # then
    assert count == 1
    assert Review.objects.get(status=Review.Status.APPROVED).rating == 5
