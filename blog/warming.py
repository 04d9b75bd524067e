"""What ``warm_cache`` fills for the blog: the answers of its busiest public endpoints."""

from __future__ import annotations

from django.conf import settings

from blog import selectors
from core.cache import warming


def _warm_featured() -> None:
    selectors.get_featured_posts(limit=selectors.FEATURED_DEFAULT_LIMIT)


def _warm_first_page() -> None:
    # The first page as the API asks for it: the default page size, plus one row to tell
    # whether a next page exists (core/cache/pages.py).
    selectors.post_list_first(tag=None, limit=settings.REST_FRAMEWORK["PAGE_SIZE"] + 1)


def connect() -> None:
    """Called once from ``BlogConfig.ready()``."""
    warming.register("blog.featured_posts", _warm_featured)
    warming.register("blog.post_list_first", _warm_first_page)
