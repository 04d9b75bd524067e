"""Reads of the reviews app: the public list and the rating summary, approved reviews only.

The summary and the list's first pages are cached; what invalidates them is in
``reviews/caching.py``.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from core.cache import cache_result
from reviews import caching
from reviews.models import RATINGS, Review


def review_list_approved(*, rating: int | None = None) -> QuerySet[Review]:
    """Approved reviews with their author, newest first, optionally of one ``rating``.

    Served by the ``review_status_newest`` / ``review_status_rating_newest`` indexes.
    """
    reviews = Review.objects.filter(status=Review.Status.APPROVED)
    if rating is not None:
        reviews = reviews.filter(rating=rating)
    return reviews.select_related("customer").order_by("-created_at", "-id")


@cache_result(ttl=120, key=caching.review_list_first_key)
def review_list_first(*, rating: int | None, limit: int) -> list[Review]:
    """The newest ``limit`` approved reviews (of ``rating``): the API's first page (a page size
    plus one, so the paginator knows whether a next page exists)."""
    return list(review_list_approved(rating=rating)[:limit])


@cache_result(ttl=300, key=caching.review_stats_key, l1=True)
def review_stats() -> dict[str, Any]:
    """``{count, average, distribution}`` over approved reviews, in one aggregate query.

    ``average`` is rounded half up to 2 decimals (``None`` without reviews), computed from the
    exact integer sum rather than the database's floating-point AVG; ``distribution`` always
    has the keys ``"1"`` to ``"5"``.
    """
    per_rating = {f"rating_{r}": Count("id", filter=Q(rating=r)) for r in RATINGS}
    row = Review.objects.filter(status=Review.Status.APPROVED).aggregate(
        count=Count("id"), rating_sum=Sum("rating"), **per_rating
    )
    count = row["count"]
    average = None
    if count:
        exact = Decimal(row["rating_sum"]) / Decimal(count)
        average = float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return {
        "count": count,
        "average": average,
        "distribution": {str(r): row[f"rating_{r}"] for r in RATINGS},
    }
