"""Public, read-only blog endpoints (API.md, Blog)."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from blog import selectors
from blog.api.pagination import PublishedPostCursorPagination
from blog.api.serializers import (
    FeaturedPostsQuerySerializer,
    PostListQuerySerializer,
    PostSerializer,
    PostSummarySerializer,
    post_representation,
    post_summaries,
)
from blog.models import RESERVED_SLUGS, Post
from blog.selectors import NEWEST_FIRST
from core.cache.http import HttpCachePolicy, PublicCacheMixin
from core.cache.pages import FirstPageRows, is_first_page
from core.http.serializers import validated_query


class PublicBlogView(PublicCacheMixin, APIView):
    """Anyone may read the blog. No authentication: a stale token in a customer's app must not
    turn a blog read into a 401, and every read is the same for everyone, so a CDN may keep it
    (core/cache/http.py)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    http_cache = HttpCachePolicy(max_age=60, s_maxage=300, stale_while_revalidate=300)
    # Cheap to retry and cacheable: the first traffic shed under overload.
    traffic_priority = {"GET": "low"}


class PostListView(PublicBlogView, generics.ListAPIView):
    """Published posts, newest first, optionally by tag and full-text search. Items carry no
    body; fetch a post by its slug for that."""

    serializer_class = PostSummarySerializer
    pagination_class = PublishedPostCursorPagination

    def get_throttle_scopes(self, request: Request) -> list[str]:
        # Full-text search costs far more than a page of the list: its own, tighter limit.
        return ["search"] if request.query_params.get("q") else ["blog_list"]

    def get_queryset(self) -> QuerySet[Post]:
        params = validated_query(PostListQuerySerializer, self.request)
        tag, query = params.get("tag") or None, params.get("q") or None
        posts = selectors.post_list_published(tag=tag, query=query)
        # List items carry no body; do not read it from the database either.
        return posts.defer("body")

    @extend_schema(parameters=[PostListQuerySerializer])
    def get(self, request: Request) -> Response:
        params = validated_query(PostListQuerySerializer, request)
        if not is_first_page(self.paginator, request):
            return super().get(request)
        # The hottest pages: the rows of a first page (of the list or of a search) come from
        # the cache (deeper pages do not), its body is rendered once per process for each set
        # of rows.
        limit = self.paginator.get_page_size(request) + 1
        tag, query = params.get("tag") or None, params.get("q") or None
        if query:
            rows = selectors.post_search_first.lookup(query=query, tag=tag, limit=limit)
        else:
            rows = selectors.post_list_first.lookup(tag=tag, limit=limit)
        return self.cached_response(rows, self._first_page)

    def _first_page(self, rows: list[Post]) -> Any:
        page = self.paginate_queryset(FirstPageRows(rows, NEWEST_FIRST))
        return self.get_paginated_response(post_summaries(page or [])).data

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A deeper page: ``ListAPIView.list`` with the summaries built straight from the rows."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(post_summaries(page or []))


class FeaturedPostListView(PublicBlogView):
    """Featured published posts, newest first: a plain list of at most ``limit``."""

    @extend_schema(
        parameters=[FeaturedPostsQuerySerializer], responses={200: PostSummarySerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        params = validated_query(FeaturedPostsQuerySerializer, request)
        posts = selectors.get_featured_posts.lookup(limit=params["limit"])
        return self.cached_response(posts, post_summaries)


class PostDetailView(PublicBlogView):
    """One published post, with its body. Drafts and unknown slugs are 404."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "slug",
                str,
                OpenApiParameter.PATH,
                required=True,
                # Reserved slugs are other routes (``/posts/featured/`` is the featured list).
                pattern=rf"^(?!({'|'.join(sorted(RESERVED_SLUGS))})$)[-a-zA-Z0-9_]+$",
                description="The post's slug.",
            )
        ],
        responses={200: PostSerializer},
    )
    def get(self, request: Request, slug: str) -> Response:
        post = selectors.post_get_published.lookup(slug=slug)
        return self.cached_response(post, post_representation)
