"""What the reviews app caches and the writes that invalidate it (warming: ``reviews/warming.py``).

The public list's first pages and the rating summary depend on one version scope,
``APPROVED``: a review saved or deleted, a moderation (one UPDATE, no signals: the services
invalidate), or an author renamed (the list shows first names) bumps it after commit.
"""

from __future__ import annotations

from accounts.models import User
from core.cache import CacheKey, invalidate, invalidate_on_change, invalidate_on_field_change
from reviews.models import Review

APPROVED = "reviews.approved"


def review_stats_key() -> CacheKey:
    return CacheKey("reviews.stats", scopes=(APPROVED,))


def review_list_first_key(*, rating: int | None, limit: int) -> CacheKey:
    return CacheKey("reviews.list_first", parts=(rating, limit), scopes=(APPROVED,))


def invalidate_reviews() -> None:
    """For the moderation services' single UPDATE, which sends no model signals."""
    invalidate(APPROVED)


def connect() -> None:
    """Called once from ``ReviewsConfig.ready()``."""
    invalidate_on_change(Review, scopes=[APPROVED])
    # The list shows its authors' first names.
    invalidate_on_field_change(User, fields={"name"}, scopes=[APPROVED])
