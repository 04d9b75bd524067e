"""What the blog caches, the writes that invalidate it, and what ``warm_cache`` fills.

Every public view of posts depends on one version scope, ``POSTS``: a post, its tags or its
author's name changing bumps it (after commit), which invalidates the featured list, every
first page (any tag, any search, any page size) and every post detail at once. Staff edit
posts rarely and readers read them constantly, so one scope beats per-post bookkeeping.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from accounts.models import User
from blog.models import Post, Tag
from core.cache import CacheKey, invalidate, invalidate_on_change, warming

POSTS = "blog.posts"
# The cached posts' shape: 2 since they carry ``tag_names`` instead of prefetched tags.
SCHEMA = 2

# ------------------------------------------------------------------------------ keys


def featured_posts_key(*, limit: int = 10) -> CacheKey:
    return CacheKey("blog.featured_posts", parts=(limit,), scopes=(POSTS,), schema=SCHEMA)


def post_list_first_key(*, tag: str | None, limit: int) -> CacheKey:
    # Tags are lowercase (the selector lowercases the filter too).
    return CacheKey(
        "blog.post_list_first", parts=(tag and tag.lower(), limit), scopes=(POSTS,), schema=SCHEMA
    )


def post_search_first_key(*, query: str, tag: str | None, limit: int) -> CacheKey:
    return CacheKey(
        "blog.post_search_first",
        parts=(query, tag and tag.lower(), limit),
        scopes=(POSTS,),
        schema=SCHEMA,
    )


def post_detail_key(*, slug: str) -> CacheKey:
    return CacheKey("blog.post_detail", parts=(slug,), scopes=(POSTS,), schema=SCHEMA)


# ------------------------------------------------------------------------------ invalidation


def invalidate_posts() -> None:
    """For services' bulk writes, which send no model signals (``QuerySet.update()``)."""
    invalidate(POSTS)


def _author_renamed(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    """Posts show their author's name. A new user has no posts; a save that names its fields
    without ``name`` (a login's ``last_login``) cannot have renamed anyone."""
    update_fields = kwargs.get("update_fields")
    if not created and (update_fields is None or "name" in update_fields):
        invalidate_posts()


def connect() -> None:
    """Called once from ``BlogConfig.ready()``."""
    invalidate_on_change(Post, Tag, Post.tags.through, scopes=[POSTS])
    post_save.connect(_author_renamed, sender=User, dispatch_uid="blog.caching.author_renamed")
    warming.register("blog.featured_posts", _warm_featured)
    warming.register("blog.post_list_first", _warm_first_page)


# ------------------------------------------------------------------------------ warming


def _warm_featured() -> None:
    from blog import selectors
    from blog.api.serializers import FEATURED_DEFAULT_LIMIT

    selectors.get_featured_posts(limit=FEATURED_DEFAULT_LIMIT)


def _warm_first_page() -> None:
    from django.conf import settings

    from blog import selectors

    # The first page as the API asks for it: the default page size, plus one row to tell
    # whether a next page exists (core/cache/pages.py).
    selectors.post_list_first(tag=None, limit=settings.REST_FRAMEWORK["PAGE_SIZE"] + 1)
