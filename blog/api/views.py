"""Public, read-only blog endpoints (API.md, Blog)."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
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
)
from blog.models import Post


class PublicBlogView(APIView):
    """Anyone may read the blog. No authentication: a stale token in a customer's app must not
    turn a blog read into a 401, and anonymous reads stay cacheable."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
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
        params = PostListQuerySerializer(data=self.request.query_params.dict())
        params.is_valid(raise_exception=True)
        posts = selectors.post_list_published(
            tag=params.validated_data.get("tag") or None,
            query=params.validated_data.get("q") or None,
        )
        # List items carry no body; do not read it from the database either.
        return posts.defer("body")

    @extend_schema(parameters=[PostListQuerySerializer])
    def get(self, request: Request) -> Response:
        return super().get(request)


class FeaturedPostListView(PublicBlogView):
    """Featured published posts, newest first: a plain list of at most ``limit``."""

    @extend_schema(
        parameters=[FeaturedPostsQuerySerializer], responses={200: PostSummarySerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        params = FeaturedPostsQuerySerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        posts = selectors.get_featured_posts(limit=params.validated_data["limit"])
        return Response(PostSummarySerializer(posts, many=True).data)


class PostDetailView(PublicBlogView):
    """One published post, with its body. Drafts and unknown slugs are 404."""

    @extend_schema(responses={200: PostSerializer})
    def get(self, request: Request, slug: str) -> Response:
        post = selectors.post_get_published(slug=slug)
        return Response(PostSerializer(post).data)
