"""The one-review-per-booking rule under concurrency, on the real PostgreSQL server."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from reviews import services
from reviews.errors import AlreadyReviewed
from reviews.models import Review
from tests.reviews.factories import make_booking

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True)]

HANG_GUARD_SECONDS = 10


def _blocked_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


def test_racing_submissions_for_one_booking_create_one_review(customer):
    # given
    if connection.vendor != "postgresql":
        pytest.skip("row-level blocking on a unique index needs PostgreSQL")
    booking = make_booking(customer=customer)
    outcome: dict[str, object] = {}

    def second_submission() -> None:
        try:
            services.review_submit(
                customer=customer, booking_id=booking.pk, rating=1, title="Second", body="b"
            )
            outcome["second"] = "created"
        except AlreadyReviewed:
            outcome["second"] = "already_reviewed"
        finally:
            connections.close_all()

    # when: the second INSERT starts while the first is written but not yet committed
    with transaction.atomic():
        services.review_submit(
            customer=customer, booking_id=booking.pk, rating=5, title="First", body="b"
        )
        racer = threading.Thread(target=second_submission)
        racer.start()
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while _blocked_backends() == 0:
            assert time.monotonic() < deadline, "the second INSERT never waited on the index"
            time.sleep(0.01)
    racer.join(HANG_GUARD_SECONDS)

    # then
    assert outcome == {"second": "already_reviewed"}
    assert list(Review.objects.values_list("title", flat=True)) == ["First"]
