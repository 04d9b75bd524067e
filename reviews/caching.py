"""What the reviews app caches, the writes that invalidate it, and warming.

The public list's first pages and the rating summary depend on one version scope,
``APPROVED``: a review saved or deleted, a moderation (one UPDATE, no signals: the services
invalidate), or an author renamed (the list shows first names) bumps it after commit.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from accounts.models import User
from core.cache import CacheKey, invalidate, invalidate_on_change, warming
from reviews.models import Review

APPROVED = "reviews.approved"


def review_stats_key() -> CacheKey:
    return CacheKey("reviews.stats", scopes=(APPROVED,))


def review_list_first_key(*, rating: int | None, limit: int) -> CacheKey:
    return CacheKey("reviews.list_first", parts=(rating, limit), scopes=(APPROVED,))


def invalidate_reviews() -> None:
    """For the moderation services' single UPDATE, which sends no model signals."""
    invalidate(APPROVED)


def _author_renamed(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    """Reviews show their author's first name; see ``blog.caching._author_renamed``."""
    update_fields = kwargs.get("update_fields")
    if not created and (update_fields is None or "name" in update_fields):
        invalidate_reviews()


def connect() -> None:
    """Called once from ``ReviewsConfig.ready()``."""
    invalidate_on_change(Review, scopes=[APPROVED])
    post_save.connect(_author_renamed, sender=User, dispatch_uid="reviews.caching.author_renamed")
    warming.register("reviews.stats", _warm_stats)
    warming.register("reviews.list_first", _warm_first_page)


def _warm_stats() -> None:
    from reviews import selectors

    selectors.review_stats()


def _warm_first_page() -> None:
    from django.conf import settings

    from reviews import selectors

    selectors.review_list_first(rating=None, limit=settings.REST_FRAMEWORK["PAGE_SIZE"] + 1)
