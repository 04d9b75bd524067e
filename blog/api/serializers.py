from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from blog.models import Post
from blog.selectors import FEATURED_DEFAULT_LIMIT, FEATURED_MAX_LIMIT
from core.http.serializers import (
    PrebuiltFieldsMixin,
    QueryIntegerField,
    QuerySerializer,
    datetime_text,
)

# Bounds on query parameters: a value past them is a 400, not a slow query.
TAG_QUERY_MAX_LENGTH = 100
SEARCH_QUERY_MAX_LENGTH = 200


class PostListQuerySerializer(QuerySerializer):
    """Query parameters of the post list. Not strict: ``cursor`` and ``page_size`` belong to
    the paginator, and unknown parameters are ignored."""

    tag = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=TAG_QUERY_MAX_LENGTH,
        help_text="Only posts with this tag, e.g. “recipes”.",
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SEARCH_QUERY_MAX_LENGTH,
        help_text="Full-text search in title, excerpt and body. Results stay newest first.",
    )


class FeaturedPostsQuerySerializer(QuerySerializer):
    limit = QueryIntegerField(
        default=FEATURED_DEFAULT_LIMIT,
        min_value=1,
        max_value=FEATURED_MAX_LIMIT,
        help_text=f"How many posts at most (1-{FEATURED_MAX_LIMIT}).",
    )


class PostSummarySerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    """A post in a list: everything but the body."""

    # Names, alphabetical: posts come from ``Post.objects.with_tag_names()`` (blog.selectors).
    tags = serializers.ListField(child=serializers.CharField(), source="tag_names", read_only=True)
    author_name = serializers.CharField(source="author.name", read_only=True)
    # Never null here: only published posts are served, and they always have a date.
    published_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Post
        fields = [
            "slug",
            "title",
            "excerpt",
            "cover_image_url",
            "tags",
            "featured",
            "published_at",
            "author_name",
        ]
        read_only_fields = fields


class PostSerializer(PostSummarySerializer):
    """One post, with its body."""

    class Meta(PostSummarySerializer.Meta):
        fields = [
            "slug",
            "title",
            "excerpt",
            "body",
            "cover_image_url",
            "tags",
            "featured",
            "published_at",
            "author_name",
        ]
        read_only_fields = fields


def post_representation(
    post: Post, *, body: bool = True, zone: tzinfo | None = None
) -> dict[str, Any]:
    """``PostSerializer``'s answer for a post (``PostSummarySerializer``'s without ``body``),
    built straight from it: the post's detail and list pages answer with this (copying the
    serializer's fields and walking them was ~20 % of an uncached detail's CPU). The serializers
    stay the schema's description; tests/blog/test_representation.py keeps the answers equal.
    ``zone``: the current time zone, when the caller formats many posts (``post_summaries``)."""
    answer: dict[str, Any] = {"slug": post.slug, "title": post.title, "excerpt": post.excerpt}
    if body:
        answer["body"] = post.body
    answer["cover_image_url"] = post.cover_image_url
    answer["tags"] = list(post.tag_names)
    answer["featured"] = post.featured
    zone = zone or timezone.get_current_timezone()
    answer["published_at"] = datetime_text(post.published_at, zone)
    answer["author_name"] = post.author.name
    return answer


def post_summaries(posts: Iterable[Post]) -> list[dict[str, Any]]:
    """``PostSummarySerializer(posts, many=True)``'s answer (``post_representation``'s), the
    time zone looked up once."""
    zone = timezone.get_current_timezone()
    return [post_representation(post, body=False, zone=zone) for post in posts]
