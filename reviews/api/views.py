from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.cache.http import HttpCachePolicy, PublicCacheMixin
from core.cache.pages import FirstPageRows, is_first_page
from reviews import selectors, services
from reviews.api.serializers import (
    ReviewInputSerializer,
    ReviewListQuerySerializer,
    ReviewSerializer,
    ReviewStatsSerializer,
)

# New reviews appear after staff approve them, so a few minutes in a CDN is harmless.
REVIEWS_HTTP_CACHE = HttpCachePolicy(max_age=60, s_maxage=300, stale_while_revalidate=600)


class ReviewListCreateView(PublicCacheMixin, GenericAPIView):
    serializer_class = ReviewSerializer
    throttle_scopes = {"POST": ["review_submit"]}
    traffic_priority = {"GET": "low"}
    http_cache = REVIEWS_HTTP_CACHE

    def get_permissions(self) -> list:
        if self.request.method == "POST":
            return [IsAuthenticated()]
        return [AllowAny()]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "rating",
                int,
                enum=[1, 2, 3, 4, 5],
                description="Only reviews with this rating.",
            ),
        ],
        responses={200: ReviewSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        """Approved reviews, newest first, for anyone."""
        query = ReviewListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        rating = query.validated_data.get("rating")
        if is_first_page(self.paginator, request):
            # The hottest page comes from the cache; deeper pages from the database.
            limit = self.paginator.get_page_size(request) + 1
            rows = selectors.review_list_first(rating=rating, limit=limit)
            page = self.paginate_queryset(FirstPageRows(rows, self.paginator.ordering))
        else:
            page = self.paginate_queryset(selectors.review_list_approved(rating=rating))
        return self.get_paginated_response(ReviewSerializer(page, many=True).data)

    @extend_schema(request=ReviewInputSerializer, responses={201: ReviewSerializer})
    def post(self, request: Request) -> Response:
        """Review one of your completed bookings, once. The review is published when staff
        approve it (`409 review_not_allowed` before the event is completed,
        `409 already_reviewed` for a second review)."""
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_submit(
            customer=request.user,
            booking_id=data.validated_data["booking"],
            rating=data.validated_data["rating"],
            title=data.validated_data["title"],
            body=data.validated_data["body"],
        )
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class ReviewStatsView(PublicCacheMixin, APIView):
    permission_classes = [AllowAny]
    http_cache = REVIEWS_HTTP_CACHE
    traffic_priority = {"GET": "low"}

    @extend_schema(responses={200: ReviewStatsSerializer})
    def get(self, request: Request) -> Response:
        """How many approved reviews there are, their average rating and how many per rating."""
        return Response(ReviewStatsSerializer(selectors.review_stats()).data)
