"""Reads for the blog: published posts only, in a constant number of queries per page.

Every list is ordered newest first by ``(-published_at, -id)``, the order the indexes on
``Post`` are built for. The public API's reads (featured, first pages, details) are cached;
what invalidates them is in ``blog/caching.py``.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import BigIntegerField, CharField, OuterRef, Q, QuerySet
from django.db.models.expressions import Combinable

from blog import caching
from blog.errors import PostNotFound
from blog.models import POST_SEARCH_VECTOR, SEARCH_CONFIG, Post
from core.cache import cache_result
from core.db.prepared import Param, PreparedQuery, columns_of

NEWEST_FIRST = ("-published_at", "-id")
# Featured posts: how many by default and at most (``?limit=``).
FEATURED_DEFAULT_LIMIT = 10
FEATURED_MAX_LIMIT = 50


def _published_posts() -> QuerySet[Post]:
    """Published posts with what the API shows of them: two queries for any number of posts."""
    return (
        Post.objects.filter(status=Post.Status.PUBLISHED).select_related("author").with_tag_names()
    )


def _search(posts: QuerySet[Post], query: str) -> QuerySet[Post]:
    """Filter ``posts`` to those matching ``query``; the order is left to the caller.

    PostgreSQL: a websearch query (``"exact phrase"``, ``-excluded``, ``or``) against the
    indexed search vector; results are not ranked, so pagination stays a cheap index walk.
    Other databases (SQLite in development): every word must appear, case-insensitively, in
    the title, excerpt or body.
    """
    # The primary's vendor: replicas are copies of it, and asking the router for the query's
    # alias here would count a read that never happens.
    if connection.vendor == "postgresql":
        return posts.alias(search=POST_SEARCH_VECTOR).filter(
            search=SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
        )
    for word in query.split():
        posts = posts.filter(
            Q(title__icontains=word) | Q(excerpt__icontains=word) | Q(body__icontains=word)
        )
    return posts


def post_list_published(*, tag: str | None = None, query: str | None = None) -> QuerySet[Post]:
    """Published posts, newest first, optionally with the tag named ``tag`` and matching the
    full-text ``query``. Lazy, so the caller paginates it."""
    posts = _published_posts()
    if tag:
        # Tag names are lowercase. A post has a tag at most once (the M2M table is unique), so
        # this join never duplicates a post.
        posts = posts.filter(tags__name=tag.lower())
    if query:
        posts = _search(posts, query)
    return posts.order_by(*NEWEST_FIRST)


@cache_result(ttl=300, key=caching.featured_posts_key, l1=True)
def get_featured_posts(*, limit: int = 10) -> list[Post]:
    """Up to ``limit`` (at least 1) featured published posts, newest first."""
    return list(_published_posts().filter(featured=True).order_by(*NEWEST_FIRST)[:limit])


# In L1 too: the hottest list page, a few KiB per tag and page size (the L1 is bounded by bytes).
@cache_result(ttl=120, key=caching.post_list_first_key, l1=True)
def post_list_first(*, tag: str | None, limit: int) -> list[Post]:
    """The newest ``limit`` published posts (with ``tag``), without their bodies: the API's
    first page (a page size plus one, so the paginator knows whether a next page exists)."""
    return list(post_list_published(tag=tag).defer("body")[:limit])


# Searches repeat (popular words) and each costs a full-text query: first pages are cached
# too, in Redis only, so one-off searches do not crowd the hot datasets out of L1.
@cache_result(ttl=120, key=caching.post_search_first_key)
def post_search_first(*, query: str, tag: str | None, limit: int) -> list[Post]:
    """The first ``limit`` posts matching ``query`` (with ``tag``), newest first, no bodies."""
    return list(post_list_published(tag=tag, query=query).defer("body")[:limit])


@cache_result(ttl=300, key=caching.post_detail_key, l1=True)
def post_get_published(*, slug: str) -> Post:
    """The published post with ``slug``; raises ``PostNotFound`` for drafts and unknown slugs.

    The same post, author and ``tag_names`` as ``_published_posts().get(slug=slug)``, through
    compiled queries (building and compiling the ORM's took ~1.5 ms of the ~4.3 ms an uncached
    detail cost): on PostgreSQL one, the tag names an array in the post's row; elsewhere two."""
    database = _PUBLISHED_POST.database()
    rows = _PUBLISHED_POST.rows(using=database, slug=slug)
    if not rows:
        raise PostNotFound()
    post_columns, author_columns = columns_of(Post), columns_of(get_user_model())
    row = list(rows[0])
    authors_end = len(post_columns) + len(author_columns)
    post = Post.from_db(database, post_columns, row[: len(post_columns)])
    author = get_user_model().from_db(
        database, author_columns, row[len(post_columns) : authors_end]
    )
    Post.author.field.set_cached_value(post, author)
    if len(row) > authors_end:  # the tag names came with the post
        post.tag_names = row[authors_end]
    else:  # from the same database as the post: a replica's copy must match its post
        post.tag_names = [name for (name,) in _TAG_NAMES.rows(using=database, post=post.pk)]
    return post


def _tag_names_query(post: Combinable) -> QuerySet[Any]:
    """The names of the tags of ``post`` (an id), alphabetical (``Post.with_tag_names()``'
    order)."""
    return (
        Post.tags.through.objects.filter(post_id=post)
        .order_by("tag__name")
        .values_list("tag__name")
    )


def _published_post_query() -> QuerySet[Any]:
    """A published post's columns, then its author's (what ``select_related("author")``
    reads), then on PostgreSQL its tag names as an array: an uncached detail is one round trip
    to the database, not two."""
    posts = Post.objects.filter(status=Post.Status.PUBLISHED, slug=Param("slug", CharField()))
    columns = [*columns_of(Post), *(f"author__{c}" for c in columns_of(get_user_model()))]
    if connection.vendor == "postgresql":
        posts = posts.annotate(tag_names=ArraySubquery(_tag_names_query(OuterRef("pk"))))
        columns.append("tag_names")
    return posts.values_list(*columns)


_PUBLISHED_POST = PreparedQuery(_published_post_query)
_TAG_NAMES = PreparedQuery(lambda: _tag_names_query(Param("post", BigIntegerField())))
