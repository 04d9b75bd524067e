"""What the blog caches and the writes that invalidate it (warming: ``blog/warming.py``).

Every public view of posts depends on one version scope, ``POSTS``: a post, its tags or its
author's name changing bumps it (after commit), which invalidates the featured list, every
first page (any tag, any search, any page size) and every post detail at once. Staff edit
posts rarely and readers read them constantly, so one scope beats per-post bookkeeping.
"""

from __future__ import annotations

from accounts.models import User
from blog.models import Post, Tag
from core.cache import CacheKey, invalidate, invalidate_on_change, invalidate_on_field_change

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


def connect() -> None:
    """Called once from ``BlogConfig.ready()``."""
    invalidate_on_change(Post, Tag, Post.tags.through, scopes=[POSTS])
    # Posts show their author's name.
    invalidate_on_field_change(User, fields={"name"}, scopes=[POSTS])
