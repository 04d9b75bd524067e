"""Writes for the blog. Code and the admin's bulk actions change posts through these functions,
so a cache in front of the public lists has one place to hook its invalidation (the admin's
edit form still saves a single post directly).

The bulk functions are single UPDATE statements: atomic without row locks, and safe to retry.
"""

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from blog import caching
from blog.models import Post, Tag
from core.db import use_primary
from core.http.errors import InvalidInput
from core.observability import metrics


def _tags_named(names: Iterable[str]) -> list[Tag]:
    """The tags called ``names`` (normalised to lowercase), creating the missing ones.

    Call inside ``atomic()``: its reads then go to the primary, which has the tags just made.
    """
    wanted = sorted({name.strip().lower() for name in names})
    name_field = Tag._meta.get_field("name")
    for name in wanted:
        try:
            name_field.run_validators(name)
        except DjangoValidationError as exc:
            messages = [f"“{name}”: {message}" for message in exc.messages]
            raise InvalidInput("tags", *messages) from None
    # ignore_conflicts: two editors adding the same new tag at once both succeed.
    Tag.objects.bulk_create([Tag(name=name) for name in wanted], ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=wanted))


def post_create(
    *,
    author: User,
    title: str,
    body: str,
    slug: str | None = None,
    excerpt: str = "",
    cover_image_url: str = "",
    tags: Iterable[str] = (),
    featured: bool = False,
) -> Post:
    """Create a draft post (publish it with ``post_publish``). ``slug`` defaults to the title
    slugified. Raises a validation error for a taken or reserved slug or any invalid field."""
    post = Post(
        author=author,
        title=title,
        body=body,
        slug=slug if slug is not None else slugify(title)[:200],
        excerpt=excerpt,
        cover_image_url=cover_image_url,
        featured=featured,
        status=Post.Status.DRAFT,
    )
    try:
        with transaction.atomic():
            # Inside the transaction so the uniqueness check reads the primary, not a replica.
            post.full_clean()
            post.save()
            post.tags.set(_tags_named(tags))
            metrics.inc_on_commit(metrics.blog_posts_created)
    except IntegrityError:
        # Another post took the slug between full_clean() and the INSERT.
        raise InvalidInput("slug", "A post with this slug already exists.") from None
    return post


def post_set_tags(*, post: Post, tags: Iterable[str]) -> None:
    """Replace the post's tags with the tags named ``tags``, creating missing ones."""
    with transaction.atomic():
        post.tags.set(_tags_named(tags))
        Post.objects.filter(pk=post.pk).update(updated_at=timezone.now())


def post_publish_bulk(*, posts: QuerySet[Post], published_at: datetime | None = None) -> int:
    """Publish the drafts among ``posts``; return how many were published.

    A draft keeps a publication date it already has (one unpublished for a quick fix returns
    to its place in the list instead of jumping to the top); others get ``published_at``,
    default now.
    """
    now = timezone.now()
    date = published_at if published_at is not None else Coalesce("published_at", now)
    published = (
        _posts_among(posts)
        .filter(status=Post.Status.DRAFT)
        .update(status=Post.Status.PUBLISHED, published_at=date, updated_at=now)
    )
    if published:
        caching.invalidate_posts()
    return published


def post_unpublish_bulk(*, posts: QuerySet[Post]) -> int:
    """Turn the published posts among ``posts`` back into drafts; return how many."""
    unpublished = (
        _posts_among(posts)
        .filter(status=Post.Status.PUBLISHED)
        .update(status=Post.Status.DRAFT, updated_at=timezone.now())
    )
    if unpublished:
        caching.invalidate_posts()
    return unpublished


def post_set_featured_bulk(*, posts: QuerySet[Post], featured: bool) -> int:
    """Feature (or stop featuring) ``posts``; return how many changed."""
    changed = (
        _posts_among(posts)
        .exclude(featured=featured)
        .update(featured=featured, updated_at=timezone.now())
    )
    if changed:
        caching.invalidate_posts()
    return changed


def post_publish(*, post: Post, published_at: datetime | None = None) -> Post:
    """Publish one draft (see ``post_publish_bulk``); a published post is left as it is."""
    post_publish_bulk(posts=Post.objects.filter(pk=post.pk), published_at=published_at)
    return _reloaded(post, fields=["status", "published_at", "updated_at"])


def post_unpublish(*, post: Post) -> Post:
    """Turn one published post back into a draft; it disappears from the API."""
    post_unpublish_bulk(posts=Post.objects.filter(pk=post.pk))
    return _reloaded(post, fields=["status", "updated_at"])


def post_set_featured(*, post: Post, featured: bool) -> Post:
    """Feature one post, or stop featuring it."""
    post_set_featured_bulk(posts=Post.objects.filter(pk=post.pk), featured=featured)
    return _reloaded(post, fields=["featured", "updated_at"])


def _posts_among(posts: QuerySet[Post]) -> QuerySet[Post]:
    """A plain queryset of the same rows: callers (the admin) may pass querysets with joins,
    DISTINCT or ordering that UPDATE cannot take."""
    return Post.objects.filter(pk__in=posts.values("pk"))


def _reloaded(post: Post, *, fields: list[str]) -> Post:
    """``post`` with ``fields`` as just written: read from the primary, since a replica may
    not have replayed the write yet."""
    with use_primary():
        post.refresh_from_db(fields=fields)
    return post
