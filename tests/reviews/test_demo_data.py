from collections import Counter

import pytest

from accounts.models import User
from bookings.models import Booking
from reviews import demo_data
from reviews.models import Review
from tests.reviews.factories import make_booking, make_package, make_review

pytestmark = pytest.mark.django_db


def test_seed_reviews_completed_bookings_once(customer, other_customer):
    # given
    package = make_package()
    completed = [make_booking(customer=customer, package=package) for _ in range(3)]
    already = make_booking(customer=other_customer, package=package)
    existing = make_review(customer=other_customer, booking=already, title="Kept as is")
    for status in (Booking.Status.PENDING, Booking.Status.CONFIRMED, Booking.Status.CANCELLED):
        make_booking(customer=customer, package=package, status=status)
    progress: list[int] = []

    # when
    created = demo_data.seed_reviews(bookings=Booking.objects.all(), progress=progress.append)
    again = demo_data.seed_reviews(bookings=Booking.objects.all())

    # then
    assert (created, again) == (3, 0)
    assert progress == [3]
    assert set(Review.objects.values_list("booking_id", flat=True)) == {
        b.pk for b in [*completed, already]
    }
    assert Review.objects.get(pk=existing.pk).title == "Kept as is"
    for review in Review.objects.filter(booking__in=completed):
        assert review.customer_id == customer.pk
        assert 1 <= review.rating <= 5
        assert review.title and len(review.title) <= 120
        assert review.body and len(review.body) <= 5000
        assert review.created_at >= review.booking.completed_at
        assert (review.moderated_at is None) == (review.status == Review.Status.PENDING)


def test_seed_reviews_distribution_and_batches(monkeypatch):
    # given: enough bookings for the weights to show, in batches of 100
    monkeypatch.setattr(demo_data, "BATCH_SIZE", 100)
    customer = User.objects.create_user(email="many@example.com", password="x", name="Many")
    package = make_package()
    template = make_booking(customer=customer, package=package)
    Booking.objects.bulk_create(
        Booking(
            customer=customer,
            package=package,
            status=Booking.Status.COMPLETED,
            event_date=template.event_date,
            start_time=template.start_time,
            completed_at=template.completed_at,
            adults=template.adults,
            address=template.address,
            postcode=template.postcode,
            subtotal=template.subtotal,
            travel_fee=template.travel_fee,
            total=template.total,
            deposit_due=template.deposit_due,
        )
        for _ in range(999)
    )
    progress: list[int] = []

    # when
    created = demo_data.seed_reviews(
        bookings=Booking.objects.order_by("pk").iterator(chunk_size=100),
        progress=progress.append,
    )

    # then
    assert created == 1000
    assert progress == list(range(100, 1001, 100))
    ratings = Counter(Review.objects.values_list("rating", flat=True))
    statuses = Counter(Review.objects.values_list("status", flat=True))
    assert ratings[4] + ratings[5] > 700
    assert ratings[5] > ratings[4] > ratings[3]
    assert 780 <= statuses[Review.Status.APPROVED] <= 920
    assert 50 <= statuses[Review.Status.PENDING] <= 150
    assert 20 <= statuses[Review.Status.REJECTED] <= 90


def test_seed_reviews_is_deterministic(customer):
    # given
    booking = make_booking(customer=customer)
    demo_data.seed_reviews(bookings=[booking])
    first = Review.objects.values("rating", "title", "body", "status").get()
    Review.objects.all().delete()

    # when
    demo_data.seed_reviews(bookings=[booking])

    # then
    assert Review.objects.values("rating", "title", "body", "status").get() == first
