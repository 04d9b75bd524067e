"""Realistic demo reviews for completed bookings, for ``seed_demo`` and load tests."""

import datetime
import random
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from django.utils import timezone

from bookings.models import Booking
from reviews.models import Review

BATCH_SIZE = 2000

# Most customers who bother to write are happy ones.
RATING_WEIGHTS = {5: 58, 4: 24, 3: 9, 2: 5, 1: 4}
STATUS_WEIGHTS = {Review.Status.APPROVED: 85, Review.Status.PENDING: 10, Review.Status.REJECTED: 5}

TITLES = {
    5: [
        "Best birthday dinner ever",
        "Absolutely amazing night",
        "The chef stole the show",
        "Worth every penny",
        "Our guests are still talking about it",
        "Perfect anniversary surprise",
        "Five stars, booking again",
        "Restaurant quality in our backyard",
    ],
    4: [
        "Great food and a fun show",
        "Really enjoyable evening",
        "Delicious, a few small hiccups",
        "Kids loved the onion volcano",
        "Very good, would recommend",
    ],
    3: [
        "Good food, average show",
        "Decent but not wow",
        "Fine for the price",
        "Mixed feelings",
    ],
    2: [
        "Chef arrived late",
        "Not what we expected",
        "Portions were small",
    ],
    1: [
        "Disappointing evening",
        "Would not book again",
        "Food was cold and bland",
    ],
}

OPENINGS = {
    5: [
        "We booked a hibachi chef for my husband's 40th and it was perfect.",
        "I can't say enough good things about this experience.",
        "Our family reunion dinner was a huge hit thanks to our chef.",
        "We've done hibachi restaurants for years, but at home is on another level.",
    ],
    4: [
        "We had a really good time overall.",
        "Booked this for a graduation party with about 15 guests.",
        "Solid experience from booking to cleanup.",
    ],
    3: [
        "It was okay.",
        "The evening was fine, though not quite what the photos promised.",
        "Some parts were great and some were just average.",
    ],
    2: [
        "I wanted to love this but it fell short.",
        "Unfortunately our night didn't go as planned.",
    ],
    1: [
        "Very disappointed with our booking.",
        "This was not the experience we paid for.",
    ],
}

DETAILS = {
    5: [
        "The steak and shrimp were cooked perfectly and the fried rice was the best we've had.",
        "Our chef was hilarious, caught every shrimp toss and kept the kids entertained.",
        "Setup and cleanup were spotless; we didn't lift a finger.",
        "The yum yum sauce alone was worth it.",
    ],
    4: [
        "The food was delicious, although the chicken was a little salty for us.",
        "Setup took a bit longer than expected, but the show made up for it.",
        "Great tricks and generous portions, especially the filet mignon.",
    ],
    3: [
        "The food was tasty but the show felt rushed.",
        "Portions were fine, though the vegetables were overcooked.",
        "Communication before the event could have been better.",
    ],
    2: [
        "The chef showed up 45 minutes late and seemed in a hurry all night.",
        "The noodles were greasy and we ran out of fried rice.",
    ],
    1: [
        "The food came out lukewarm and the chef barely spoke to our guests.",
        "We had to ask twice for the propane grill to be moved away from the house.",
    ],
}

CLOSINGS = {
    5: ["Already planning our next one!", "Highly recommend.", "Thank you for a great night!"],
    4: ["Would book again.", "Recommended.", "Thanks for a fun evening."],
    3: ["Might try again for a smaller group.", "Not bad, not great."],
    2: ["Hope they improve.", "Expected more for the price."],
    1: ["We won't be booking again.", "Save your money."],
}


def seed_reviews(
    *,
    bookings: Iterable[Booking],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Create one review for each completed booking in ``bookings`` that has none; return how
    many were created. Idempotent: a second run creates nothing.

    Each booking's review is derived from its pk, so reruns and other machines produce the
    same data. Bookings are read in batches of ``BATCH_SIZE`` (pass ``.iterator()`` for a large
    queryset); each batch costs two queries on PostgreSQL. ``progress`` is called after each
    batch with the number of reviews created so far.
    """
    created = 0
    now = timezone.now()
    for batch in _batches(bookings, BATCH_SIZE):
        completed = [b for b in batch if b.status == Booking.Status.COMPLETED]
        reviewed = set(
            Review.objects.filter(booking_id__in=[b.pk for b in completed]).values_list(
                "booking_id", flat=True
            )
        )
        reviews = [_demo_review(b, now=now) for b in completed if b.pk not in reviewed]
        Review.objects.bulk_create(reviews, batch_size=BATCH_SIZE)
        created += len(reviews)
        if progress is not None:
            progress(created)
    return created


def _batches(items: Iterable[Booking], size: int) -> Iterator[list[Booking]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _demo_review(booking: Booking, *, now: datetime.datetime) -> Review:
    rng = random.Random(booking.pk)
    rating = rng.choices(list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values()))[0]
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    sentences = [rng.choice(OPENINGS[rating]), *rng.sample(DETAILS[rating], k=2)]
    sentences.append(rng.choice(CLOSINGS[rating]))

    # Written a few days after the event, never in the future.
    event_end = booking.completed_at or timezone.make_aware(
        datetime.datetime.combine(booking.event_date, booking.start_time),
        timezone.get_default_timezone(),
    )
    created_at = min(event_end + datetime.timedelta(hours=rng.randint(2, 14 * 24)), now)
    moderated_at = None
    if status != Review.Status.PENDING:
        moderated_at = min(created_at + datetime.timedelta(hours=rng.randint(1, 72)), now)
    return Review(
        booking_id=booking.pk,
        customer_id=booking.customer_id,
        rating=rating,
        title=rng.choice(TITLES[rating]),
        body=" ".join(sentences),
        status=status,
        created_at=created_at,
        moderated_at=moderated_at,
    )
