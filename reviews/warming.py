"""What ``warm_cache`` fills for reviews: the rating summary and the list's first page."""

from __future__ import annotations

from django.conf import settings

from core.cache import warming
from reviews import selectors


def _warm_first_page() -> None:
    selectors.review_list_first(rating=None, limit=settings.REST_FRAMEWORK["PAGE_SIZE"] + 1)


def connect() -> None:
    """Called once from ``ReviewsConfig.ready()``."""
    warming.register("reviews.stats", selectors.review_stats)
    warming.register("reviews.list_first", _warm_first_page)
