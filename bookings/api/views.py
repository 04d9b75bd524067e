import datetime
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import selectors, services
from bookings.api.serializers import (
    AvailabilityQuerySerializer,
    BookingInputSerializer,
    BookingSerializer,
    DayAvailabilitySerializer,
    PackageSerializer,
    QuoteInputSerializer,
    QuoteSerializer,
    ServiceAreaSerializer,
    availability_representation,
    booking_representation,
    booking_representations,
)
from core.cache.http import HttpCachePolicy, PublicCacheMixin
from core.cache.pages import FirstPageRows, is_first_page
from core.http.pagination import NewestFirstCursorPagination


class PackageListView(PublicCacheMixin, ListAPIView):
    """Active menu packages (a short list: not paginated)."""

    permission_classes = [AllowAny]
    http_cache = HttpCachePolicy(max_age=60, s_maxage=300, stale_while_revalidate=600)
    serializer_class = PackageSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.package_list_active()


class ServiceAreaView(PublicCacheMixin, APIView):
    permission_classes = [AllowAny]
    http_cache = HttpCachePolicy(max_age=300, s_maxage=900, stale_while_revalidate=3600)

    @extend_schema(responses={200: ServiceAreaSerializer})
    def get(self, request: Request) -> Response:
        body = {
            "zones": selectors.service_zone_list_public(),
            "currency": settings.BOOKING_CURRENCY,
        }
        return Response(ServiceAreaSerializer(body).data)


class AvailabilityView(PublicCacheMixin, APIView):
    permission_classes = [AllowAny]
    # Every booking changes it: browsers revalidate each time (a 304 while nothing changed),
    # shared caches keep it briefly.
    http_cache = HttpCachePolicy(max_age=0, s_maxage=10, stale_while_revalidate=30)
    # The body also depends on the clock (slots too soon to book show remaining: 0).
    etag_from_cache = False

    @extend_schema(
        parameters=[
            OpenApiParameter("start", datetime.date, required=True, description="First day."),
            OpenApiParameter(
                "end",
                datetime.date,
                required=True,
                description="Last day: the range spans at most "
                f"{settings.AVAILABILITY_MAX_RANGE_DAYS} days.",
            ),
        ],
        responses={200: DayAvailabilitySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        """One entry per date from start to end: each slot's capacity and the places left.
        Dates that cannot be booked (too soon, too far ahead, closed) have no slots or
        `remaining: 0`."""
        query = AvailabilityQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        if end < start:
            raise ValidationError({"end": ["Must not be before start."]})
        max_days = settings.AVAILABILITY_MAX_RANGE_DAYS
        if (end - start).days + 1 > max_days:
            raise ValidationError({"end": [f"The range may span at most {max_days} days."]})
        days = selectors.availability_for_range(start=start, end=end)
        return Response(availability_representation(days))


class QuoteView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=QuoteInputSerializer, responses={200: QuoteSerializer})
    def post(self, request: Request) -> Response:
        """The price of an event, without booking it (`400 outside_service_area` for a
        postcode we do not serve)."""
        data = QuoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = data.validated_data
        package = selectors.package_get_active(package_id=order["package"])
        selectors.slot_capacity(date=order["event_date"], start_time=order["start_time"])
        quote = selectors.quote_calculate(
            package=package,
            adults=order["adults"],
            children=order["children"],
            postcode=order["postcode"],
        )
        return Response(QuoteSerializer(quote).data)


class BookingListCreateView(APIView):
    permission_classes = [IsAuthenticated]
    pagination_class = NewestFirstCursorPagination
    throttle_scopes = {"POST": ["booking_create"]}
    traffic_priority = {"POST": "critical"}

    @extend_schema(responses={200: BookingSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """Your own bookings, newest first, a page at a time."""
        paginator = self.pagination_class()
        rows: Any
        if is_first_page(paginator, request):
            # The page a customer opens: one compiled query (deeper pages go through the ORM).
            limit = paginator.get_page_size(request) + 1  # one more: is there a next page?
            first = selectors.booking_first_rows(customer_id=request.user.pk, limit=limit)
            rows = FirstPageRows(first, paginator.ordering)
        else:
            rows = selectors.booking_rows(customer_id=request.user.pk)
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(booking_representations(page))

    @extend_schema(request=BookingInputSerializer, responses={201: BookingSerializer})
    def post(self, request: Request) -> Response:
        """Book an event: the quote's body plus the address and notes. The booking starts in
        `pending`; `409 slot_full` when the slot has no capacity left."""
        data = BookingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = data.validated_data
        booking = services.booking_create(
            customer=request.user,
            package_id=order["package"],
            event_date=order["event_date"],
            start_time=order["start_time"],
            adults=order["adults"],
            children=order["children"],
            postcode=order["postcode"],
            address=order["address"],
            notes=order["notes"],
        )
        # A new booking has no payments yet.
        created = selectors.BookingRow.of(booking, amount_paid=0)
        return Response(booking_representation(created), status=status.HTTP_201_CREATED)


class BookingDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: BookingSerializer})
    def get(self, request: Request, booking_id: int) -> Response:
        booking = selectors.booking_get_for_customer(
            customer_id=request.user.pk, booking_id=booking_id
        )
        return Response(booking_representation(booking))


class BookingCancelView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: BookingSerializer})
    def post(self, request: Request, booking_id: int) -> Response:
        """Cancel your booking while the event is more than 48 hours away
        (`409 too_late_to_cancel` after that)."""
        # Ownership first: another customer's booking is a 404 before any rule is checked.
        selectors.booking_get_for_customer(customer_id=request.user.pk, booking_id=booking_id)
        services.booking_cancel(booking_id=booking_id)
        booking = selectors.booking_get_for_customer(
            customer_id=request.user.pk, booking_id=booking_id
        )
        return Response(booking_representation(booking))
