"""The framework's floors: views with nothing in front of them (no middleware, no DRF)."""

import datetime
import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Count, F
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_POST

from bench.minimal.models import Booking, OutboxMessage, Post, Slot

HOLDING = ("pending", "confirmed")
# The floor checks a capacity it does not read: the schedule is the app's business.
CAPACITY = 32767
BOOKING_FIELDS = ("id", "status", "package_id", "event_date", "start_time", "adults", "total")
# A bigint's digits: a longer id cannot name a row, and would fail in the database.
MAX_CUSTOMER_DIGITS = 18


def customer_id(request: HttpRequest) -> int | None:
    """The customer ``Authorization: Token <customer id>`` names, None when the header is
    missing or malformed. The floor trusts the id: the app's requests carry a real token in
    the same header, so both sides' request lists are built and sent alike."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    # isdigit() alone accepts digits int() refuses ("²"): ASCII only.
    if scheme != "Token" or not (value.isascii() and value.isdigit()):
        return None
    if len(value) > MAX_CUSTOMER_DIGITS:
        return None
    return int(value)


def customer_required(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """Call ``view(request, customer, ...)``, or answer 401 without a customer."""

    @functools.wraps(view)
    def with_customer(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        customer = customer_id(request)
        if customer is None:
            return JsonResponse(
                {"detail": "Authorization: Token <customer id> required"}, status=401
            )
        return view(request, customer, *args, **kwargs)

    return with_customer


def constant_json(request: HttpRequest) -> JsonResponse:
    """TechEmpower's JSON test: a constant object, serialized per request."""
    return JsonResponse({"message": "Hello, World!"})


def one_query(request: HttpRequest, slug: str) -> JsonResponse:
    """One ORM query by slug, the row serialized: the floor of an uncached post detail."""
    post = Post.objects.filter(slug=slug).values("slug", "title", "excerpt", "body").first()
    if post is None:
        raise Http404
    return JsonResponse(post)


@require_POST
@customer_required
def booking_create(request: HttpRequest, customer: int) -> JsonResponse:
    """The essential work of booking a slot, in one transaction: lock the slot's row, count
    its bookings, insert the booking and one outbox row. The floor of ``POST /bookings/``."""
    order = json.loads(request.body)
    date = datetime.date.fromisoformat(order["event_date"])
    start_time = datetime.time.fromisoformat(order["start_time"])
    with transaction.atomic():
        Slot.objects.bulk_create(
            [Slot(date=date, start_time=start_time)],
            update_conflicts=True,
            unique_fields=["date", "start_time"],
            update_fields=["date"],
        )
        taken = Booking.objects.filter(
            event_date=date, start_time=start_time, status__in=HOLDING
        ).count()
        if taken >= CAPACITY:
            return JsonResponse({"code": "slot_full"}, status=409)
        total = 1000 * order["adults"]
        booking = Booking.objects.create(
            customer_id=customer,
            package_id=order["package"],
            event_date=date,
            start_time=start_time,
            adults=order["adults"],
            address=order["address"],
            postcode=order["postcode"],
            subtotal=total,
            travel_fee=0,
            total=total,
            deposit_due=total // 5,
        )
        OutboxMessage.objects.create(
            task_name="notifications.send_booking_email",
            kwargs={"booking_id": booking.pk, "kind": "booking_received"},
            task_id=uuid.uuid4(),
        )
    return JsonResponse({"id": booking.pk, "status": booking.status}, status=201)


@customer_required
def bookings_list(request: HttpRequest, customer: int) -> JsonResponse:
    """A customer's 20 newest bookings with their package's name: one query."""
    rows = (
        Booking.objects.filter(customer_id=customer)
        .order_by("-created_at", "-id")
        .values(*BOOKING_FIELDS)[:20]
    )
    return JsonResponse({"results": list(rows)})


@customer_required
def booking_detail(request: HttpRequest, customer: int, booking_id: int) -> JsonResponse:
    """One booking of the customer: one query."""
    row = (
        Booking.objects.filter(pk=booking_id, customer_id=customer).values(*BOOKING_FIELDS).first()
    )
    if row is None:
        raise Http404
    return JsonResponse(row)


def availability(request: HttpRequest) -> JsonResponse:
    """Bookings holding each slot between ``start`` and ``end``: one query."""
    start = datetime.date.fromisoformat(request.GET["start"])
    end = datetime.date.fromisoformat(request.GET["end"])
    rows = (
        Booking.objects.filter(event_date__range=(start, end), status__in=HOLDING)
        .values(date=F("event_date"), time=F("start_time"))
        .annotate(taken=Count("id"))
        .order_by()
    )
    return JsonResponse({"days": list(rows)})


urlpatterns = [
    path("json", constant_json),
    path("db/<slug:slug>", one_query),
    path("bookings/", booking_create),
    path("bookings/mine/", bookings_list),
    path("bookings/<int:booking_id>/", booking_detail),
    path("availability/", availability),
    # GunicornServer waits for /healthz before it calls a server started.
    path("healthz", constant_json),
]
