"""Blog posts and their tags: public marketing content written by staff in the admin."""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.query import ModelIterable
from django.utils import timezone

# Text search configuration of the full-text index. It must be named explicitly: the
# one-argument to_tsvector() depends on a session setting, is not IMMUTABLE and so cannot be
# indexed.
SEARCH_CONFIG = "english"

# The search document of a post. The GIN index below and the search in ``blog.selectors`` use
# this one expression: PostgreSQL only uses an expression index when the query repeats the
# indexed expression exactly.
POST_SEARCH_VECTOR = (
    SearchVector("title", weight="A", config=SEARCH_CONFIG)
    + SearchVector("excerpt", weight="B", config=SEARCH_CONFIG)
    + SearchVector("body", weight="C", config=SEARCH_CONFIG)
)

# Path segments under /api/v1/blog/posts/ that are routes, not posts.
RESERVED_SLUGS = frozenset({"featured"})


def validate_slug_not_reserved(value: str) -> None:
    """A post with a reserved slug would be shadowed by the route of the same name."""
    if value in RESERVED_SLUGS:
        raise ValidationError(f"“{value}” is reserved; choose another slug.", code="reserved")


class Tag(models.Model):
    """A topic; posts are listed by tag name (``?tag=hibachi``)."""

    # Lowercase only, so "Sauces" and "sauces" can never be two tags.
    name = models.SlugField(
        max_length=50,
        unique=True,
        validators=[
            RegexValidator(r"^[-a-z0-9_]+\Z", "Use lowercase letters, digits, hyphens and _.")
        ],
        help_text="Lowercase, e.g. “sauces” or “party-planning”.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PostQuerySet(models.QuerySet["Post"]):
    """Posts; ``with_tag_names()`` gives every post it fetches ``tag_names``, its tags' names in
    alphabetical order, in one more query for any number of posts.

    What the API shows of tags is their names. ``prefetch_related("tags")`` made a ``Tag`` per
    row and a related manager per post for that; this reads ``(post id, tag name)`` pairs from
    the join table and builds no model at all (a list page: 6.2 -> 5.3 ms of CPU in-process).
    """

    _with_tag_names = False

    def with_tag_names(self) -> "PostQuerySet":
        clone = self.all()
        clone._with_tag_names = True
        return clone

    def _clone(self) -> "PostQuerySet":
        # Django copies a queryset's known attributes in ``_clone`` (private, so not in
        # django-stubs): the flag must be copied too, or a filter after it would drop it.
        clone: PostQuerySet = getattr(super(), "_clone")()  # noqa: B009
        clone._with_tag_names = self._with_tag_names
        return clone

    def _fetch_all(self) -> None:
        fetched = self._result_cache is not None
        super()._fetch_all()
        if self._with_tag_names and not fetched and self._iterable_class is ModelIterable:
            _attach_tag_names(self._result_cache)  # type: ignore[arg-type]


def _attach_tag_names(posts: list["Post"]) -> None:
    if not posts:
        return
    names: dict[int, list[str]] = {post.pk: [] for post in posts}
    # The database the posts came from (a replica's copy must match its posts).
    pairs = (
        Post.tags.through.objects.using(posts[0]._state.db)
        .filter(post_id__in=names)
        .order_by("tag__name")
        .values_list("post_id", "tag__name")
    )
    for post_id, name in pairs:
        names[post_id].append(name)
    for post in posts:
        post.tag_names = names[post.pk]


class Post(models.Model):
    """A blog post. Only ``published`` posts are visible through the API."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    slug = models.SlugField(max_length=200, unique=True, validators=[validate_slug_not_reserved])
    title = models.CharField(max_length=200)
    excerpt = models.CharField(max_length=500, blank=True)
    body = models.TextField()
    cover_image_url = models.URLField(max_length=500, blank=True)
    tags = models.ManyToManyField(Tag, related_name="posts", blank=True)
    featured = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set by the “Publish” action when empty; lists are ordered by it.",
    )
    # Staff accounts are deactivated, not deleted, so an author's posts are never orphaned.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="blog_posts"
    )
    # A default rather than auto_now_add, so imported and demo posts keep their own dates.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PostQuerySet.as_manager()
    # Set on posts fetched with ``Post.objects.with_tag_names()``.
    tag_names: list[str]

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False),
                name="blog_post_published_has_date",
                violation_error_message="A published post needs a publication date.",
            ),
        ]
        indexes = [
            # The public list: published posts, newest first (also with ?tag= and ?q=).
            models.Index(
                fields=["status", "-published_at", "-id"], name="blog_post_status_newest_idx"
            ),
            # The featured list: a small partial index, newest first.
            models.Index(
                fields=["-published_at", "-id"],
                condition=Q(status="published", featured=True),
                name="blog_post_featured_newest_idx",
            ),
            # The admin changelist, ordered newest first over every status.
            models.Index(fields=["-published_at", "-id"], name="blog_post_newest_idx"),
            # ?q= on PostgreSQL. Tag lookups use the tag_id index Django puts on the M2M table.
            GinIndex(POST_SEARCH_VECTOR, name="blog_post_search_gin"),
        ]

    def __str__(self) -> str:
        return self.title
