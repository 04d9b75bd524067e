"""Every endpoint that takes another customer's object answers 404, exactly as for an object
that does not exist (API.md: never reveal that it exists), and changes nothing.

The per-app tests check single cases; this file walks the URL configuration, so an object
endpoint added later without a case here fails ``test_every_object_endpoint_has_a_case``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from bookings.models import Booking
from payments.models import Payment
from reviews.models import Review
from tests.bookings.conftest import make_booking
from tests.conftest import assert_error
from tests.reviews.factories import make_booking as make_completed_booking

pytestmark = pytest.mark.django_db

MISSING = 987_654_321


@dataclass
class Probe:
    """``send(client, object_id)`` asks for an object by id; ``snapshot()`` reads every row
    the request could change."""

    send: Callable[[object, int], object]
    snapshot: Callable[[], object]


def _rows(model) -> Callable[[], list]:
    return lambda: list(model.objects.order_by("pk").values())


PROBES: dict[str, Probe] = {
    "booking-detail": Probe(
        send=lambda c, pk: c.get(f"/api/v1/bookings/{pk}/"), snapshot=_rows(Booking)
    ),
    "booking-cancel": Probe(
        send=lambda c, pk: c.post(f"/api/v1/bookings/{pk}/cancel/"), snapshot=_rows(Booking)
    ),
    "payment-detail": Probe(
        send=lambda c, pk: c.get(f"/api/v1/payments/{pk}/"), snapshot=_rows(Payment)
    ),
    # Endpoints that take the object in the body rather than the path.
    "payment-list (POST booking)": Probe(
        send=lambda c, pk: c.post(
            "/api/v1/payments/",
            {"booking": pk, "kind": "deposit", "amount": 13200},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"probe-{pk}",
        ),
        snapshot=_rows(Payment),
    ),
    "review-list (POST booking)": Probe(
        send=lambda c, pk: c.post(
            "/api/v1/reviews/",
            {"booking": pk, "rating": 1, "title": "Terrible", "body": "Not mine to review."},
            format="json",
        ),
        snapshot=_rows(Review),
    ),
}
# Routes with a path parameter that are not a customer's object.
PUBLIC_OBJECT_ROUTES = {
    "blog-post-detail": "published posts are public; drafts are 404 to everyone",
}


def _routes(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _routes(entry, route)
        else:
            found.append((route, entry))
    return found


def test_every_object_endpoint_has_a_case():
    # given every API route that names an object in its path
    object_routes = {
        entry.name
        for route, entry in _routes(get_resolver())
        if route.startswith("api/v1/") and "<" in route
    }
    # then each is probed below, or is public on purpose
    assert object_routes == {name for name in PROBES if " " not in name} | set(PUBLIC_OBJECT_ROUTES)


@pytest.fixture
def victims_objects(catalogue, customer) -> dict[str, int]:
    """The first customer's booking (pending), payment, and a completed booking."""
    booking = make_booking(catalogue, customer)
    payment = Payment.objects.create(
        booking=booking, kind="deposit", amount=booking.deposit_due, provider="manual"
    )
    completed = make_completed_booking(customer=customer)
    return {
        "booking-detail": booking.pk,
        "booking-cancel": booking.pk,
        "payment-detail": payment.pk,
        "payment-list (POST booking)": booking.pk,
        "review-list (POST booking)": completed.pk,
    }


@pytest.mark.parametrize("name", sorted(PROBES))
def test_another_customers_object_is_404_and_untouched(other_client, victims_objects, name):
    # given the first customer's object, and the rows the request could change
    probe = PROBES[name]
    before = probe.snapshot()
    # when another customer asks for it
    response = probe.send(other_client, victims_objects[name])
    # then the answer is 404, and nothing changed
    assert_error(response, 404, "not_found")
    assert probe.snapshot() == before


@pytest.mark.parametrize("name", sorted(PROBES))
def test_it_is_indistinguishable_from_a_missing_object(other_client, victims_objects, name):
    # when another customer asks for a real object of someone else, and for a missing one
    probe = PROBES[name]
    theirs = probe.send(other_client, victims_objects[name])
    missing = probe.send(other_client, MISSING)
    # then both answers are the same, byte for byte: nothing tells them apart
    assert (theirs.status_code, theirs.content) == (missing.status_code, missing.content)


def test_the_owner_still_gets_their_object(customer_client, victims_objects):
    # the control: the 404s above are about ownership, not broken endpoints
    for name in ("booking-detail", "payment-detail"):
        response = PROBES[name].send(customer_client, victims_objects[name])
        assert response.status_code == 200, name
