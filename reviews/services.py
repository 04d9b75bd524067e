"""Writes of the reviews app: customers submit reviews, staff approve or reject them."""

import datetime
import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking
from core.http.errors import InvalidInput, NotFound
from core.observability import metrics
from reviews import caching
from reviews.errors import AlreadyReviewed, ReviewNotAllowed
from reviews.models import MAX_RATING, MIN_RATING, RATINGS, Review

logger = logging.getLogger(__name__)


def review_submit(
    *,
    customer: User,
    booking_id: int,
    rating: int,
    title: str,
    body: str,
    now: datetime.datetime | None = None,
) -> Review:
    """Create the customer's review of their own completed booking, in ``pending``.

    Raises ``InvalidInput`` for a rating outside 1-5, ``NotFound`` for an unknown booking or
    anyone else's (never reveal it exists), ``ReviewNotAllowed`` unless the booking is
    completed, ``AlreadyReviewed`` if it has a review.
    No lock and no existence check beforehand: the unique index on ``Review.booking`` is the
    one arbiter, including between racing requests.
    """
    if rating not in RATINGS:
        raise InvalidInput("rating", f"Must be between {MIN_RATING} and {MAX_RATING}.")
    booking = Booking.objects.filter(pk=booking_id, customer=customer).only("id", "status").first()
    if booking is None:
        raise NotFound("Booking not found.")
    if booking.status != Booking.Status.COMPLETED:
        raise ReviewNotAllowed()
    try:
        # A savepoint, so the failed INSERT does not poison a caller's transaction.
        with transaction.atomic():
            review = Review.objects.create(
                booking_id=booking.pk,
                customer=customer,
                rating=rating,
                title=title,
                body=body,
                created_at=now or timezone.now(),
            )
            metrics.inc_on_commit(metrics.user_reviews_submitted)
    except IntegrityError:
        # The booking already has a review: an earlier submission, or a concurrent one that
        # committed first (its INSERT held the index entry, ours waited, then failed).
        if Review.objects.filter(booking_id=booking.pk).exists():
            raise AlreadyReviewed() from None
        raise
    logger.info("review submitted", extra={"review_id": review.pk, "booking_id": booking.pk})
    return review


def review_approve(
    *, review_ids: Iterable[int], moderator: User, now: datetime.datetime | None = None
) -> int:
    """Publish the given reviews; return how many changed status (already approved ones are
    left untouched). ``review_ids`` may be a ``values_list("pk", flat=True)`` queryset, which
    runs as a subquery however many rows the admin selected."""
    return _moderate(review_ids=review_ids, to=Review.Status.APPROVED, moderator=moderator, now=now)


def review_reject(
    *, review_ids: Iterable[int], moderator: User, now: datetime.datetime | None = None
) -> int:
    """Hide the given reviews from the public; return how many changed status."""
    return _moderate(review_ids=review_ids, to=Review.Status.REJECTED, moderator=moderator, now=now)


def _moderate(
    *,
    review_ids: Iterable[int],
    to: str,
    moderator: User,
    now: datetime.datetime | None,
) -> int:
    # One UPDATE: atomic on its own, and a concurrent moderation of the same rows simply
    # applies last-writer-wins, which is what two staff clicking at once expect.
    changed = (
        Review.objects.filter(pk__in=review_ids)
        .exclude(status=to)
        .update(status=to, moderated_at=now or timezone.now(), moderated_by=moderator)
    )
    if changed:
        caching.invalidate_reviews()
    logger.info("reviews moderated", extra={"status": to, "count": changed})
    return changed
