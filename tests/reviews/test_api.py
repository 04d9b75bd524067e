import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Booking
from reviews.models import Review
from tests.conftest import assert_error
from tests.reviews.factories import make_booking, make_review

pytestmark = pytest.mark.django_db

URL = "/api/v1/reviews/"
STATS_URL = "/api/v1/reviews/stats/"
REVIEW_FIELDS = {
    "id",
    "booking",
    "rating",
    "title",
    "body",
    "status",
    "created_at",
    "customer_name",
}


def review_body(target: Booking, **overrides) -> dict:
    return {
        "booking": target.pk,
        "rating": 5,
        "title": "Best party ever",
        "body": "Chef Ken was hilarious and the food was great.",
        **overrides,
    }


# ------------------------------------------------------------------------------ list


def test_list_shows_approved_reviews_newest_first_to_anyone(api_client, customer):
    # given
    now = timezone.now()
    older = make_review(customer=customer, created_at=now - datetime.timedelta(days=2))
    newer = make_review(customer=customer, created_at=now - datetime.timedelta(days=1))
    make_review(customer=customer, status=Review.Status.PENDING)
    make_review(customer=customer, status=Review.Status.REJECTED)

    # when
    response = api_client.get(URL)

    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"results", "next", "previous"}
    assert [r["id"] for r in body["results"]] == [newer.pk, older.pk]
    first = body["results"][0]
    assert set(first) == REVIEW_FIELDS
    assert first["booking"] == newer.booking_id
    assert first["status"] == "approved"
    assert first["customer_name"] == "Casey"  # first name only, never the email


def test_list_is_cursor_paginated(api_client, customer):
    # given
    reviews = [make_review(customer=customer) for _ in range(3)]

    # when
    first_page = api_client.get(URL, {"page_size": 2}).json()
    second_page = api_client.get(first_page["next"]).json()

    # then
    seen = [r["id"] for r in first_page["results"] + second_page["results"]]
    assert seen == [r.pk for r in reversed(reviews)]
    assert second_page["next"] is None


def test_list_filters_by_rating(api_client, customer):
    # given
    four = make_review(customer=customer, rating=4)
    make_review(customer=customer, rating=5)
    make_review(customer=customer, rating=4, status=Review.Status.PENDING)

    # when
    response = api_client.get(URL, {"rating": "4"})

    # then
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [four.pk]


@pytest.mark.parametrize("rating", ["0", "6", "x", "-1", "4.5", "1" * 50, "\x00"])
def test_list_refuses_a_bad_rating_filter(api_client, rating):
    # when
    response = api_client.get(URL, {"rating": rating})

    # then
    body = assert_error(response, 400, "validation_error")
    assert "rating" in body["errors"]


def test_an_empty_rating_filter_is_400(api_client, customer):
    # given a rating that is present but not an integer (the schema says 1-5); a UI's
    # "any rating" option leaves the parameter out
    make_review(customer=customer, rating=4)

    # when
    response = api_client.get(URL, {"rating": ""})

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_list_refuses_a_bad_cursor(api_client):
    response = api_client.get(URL, {"cursor": "garbage"})

    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("rating", ["5.0", "+5", " 5", "5 ", "\u0665", "0x5", "1e0"])
def test_list_refuses_a_rating_that_is_not_written_as_an_integer(api_client, customer, rating):
    # given a review rated 5 (DRF read "5.0" as 5 and served it)
    make_review(customer=customer, rating=5)
    # when
    response = api_client.get(URL, {"rating": rating})
    # then
    body = assert_error(response, 400, "validation_error")
    assert list(body["errors"]) == ["rating"]


@pytest.mark.parametrize("cursor", ["\x00", "A" * 3000, "", "Zm9v"])
def test_list_refuses_a_cursor_it_did_not_write(api_client, customer, cursor):
    # given reviews (a cursor DRF could not read used to answer page 1 of them)
    make_review(customer=customer)
    # when
    response = api_client.get(URL, {"cursor": cursor})
    # then
    body = assert_error(response, 400, "validation_error")
    assert list(body["errors"]) == ["cursor"]


def _list_query_count(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow_with_reviews(api_client, customer, other_customer):
    # given
    for _ in range(2):
        make_review(customer=customer)
    with_two = _list_query_count(api_client)
    for index in range(13):
        make_review(customer=other_customer if index % 2 else customer)

    # when
    with_fifteen = _list_query_count(api_client)

    # then
    assert with_fifteen == with_two
    assert with_two <= 2


# ------------------------------------------------------------------------------ stats


def test_stats_over_approved_reviews(api_client, customer):
    # given
    for rating in (5, 4, 4):
        make_review(customer=customer, rating=rating)
    make_review(customer=customer, rating=1, status=Review.Status.PENDING)

    # when
    response = api_client.get(STATS_URL)

    # then
    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "average": 4.33,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1},
    }


def test_stats_without_reviews(api_client):
    response = api_client.get(STATS_URL)

    assert response.status_code == 200
    assert response.json() == {
        "count": 0,
        "average": None,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }


def test_stats_is_one_query(api_client, customer, django_assert_num_queries):
    # given
    for rating in (1, 2, 3, 4, 5):
        make_review(customer=customer, rating=rating)

    # when / then
    with django_assert_num_queries(1):
        response = api_client.get(STATS_URL)
    assert response.json()["count"] == 5


# ------------------------------------------------------------------------------ submit


def test_customer_reviews_own_completed_booking(customer_client, customer):
    # given
    booking = make_booking(customer=customer)

    # when
    response = customer_client.post(URL, review_body(booking, rating=4), format="json")

    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == REVIEW_FIELDS
    assert body["booking"] == booking.pk
    assert body["rating"] == 4
    assert body["status"] == "pending"
    assert body["customer_name"] == "Casey"
    review = Review.objects.get(pk=body["id"])
    assert (review.customer_id, review.booking_id) == (customer.pk, booking.pk)


def test_a_submitted_review_is_not_public_until_approved(customer_client, customer, api_client):
    # given
    booking = make_booking(customer=customer)
    customer_client.post(URL, review_body(booking), format="json")

    # when
    listed = api_client.get(URL).json()["results"]
    stats = api_client.get(STATS_URL).json()

    # then
    assert listed == []
    assert stats["count"] == 0


def test_anonymous_cannot_submit(api_client, customer):
    # given
    booking = make_booking(customer=customer)

    # when
    response = api_client.post(URL, review_body(booking), format="json")

    # then
    assert_error(response, 401, "not_authenticated")
    assert not Review.objects.exists()


def test_reviewing_someone_elses_booking_is_not_found(other_client, customer):
    # given
    booking = make_booking(customer=customer)

    # when
    response = other_client.post(URL, review_body(booking), format="json")

    # then
    assert_error(response, 404, "not_found")
    assert not Review.objects.exists()


def test_reviewing_an_unknown_booking_is_not_found(customer_client):
    response = customer_client.post(
        URL, {"booking": 987654, "rating": 5, "title": "t", "body": "b"}, format="json"
    )

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("status", ["pending", "confirmed", "cancelled"])
def test_reviewing_a_booking_that_is_not_completed_is_refused(customer_client, customer, status):
    # given
    booking = make_booking(customer=customer, status=status)

    # when
    response = customer_client.post(URL, review_body(booking), format="json")

    # then
    assert_error(response, 409, "review_not_allowed")
    assert not Review.objects.exists()


def test_a_booking_can_be_reviewed_only_once(customer_client, customer):
    # given
    booking = make_booking(customer=customer)
    first = customer_client.post(URL, review_body(booking), format="json")

    # when
    second = customer_client.post(URL, review_body(booking, rating=1), format="json")

    # then
    assert first.status_code == 201
    assert_error(second, 409, "already_reviewed")
    assert Review.objects.get().rating == 5


def test_unknown_fields_are_refused(customer_client, customer):
    # given
    booking = make_booking(customer=customer)

    # when
    response = customer_client.post(
        URL, review_body(booking, status="approved", customer=1), format="json"
    )

    # then
    body = assert_error(response, 400, "validation_error")
    assert set(body["errors"]) == {"status", "customer"}
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rating", "five"),
        ("rating", 10**30),
        ("rating", 0),
        ("rating", 6),
        ("rating", 4.5),
        ("rating", None),
        ("rating", True),
        ("rating", [5]),
        ("booking", "abc"),
        ("booking", 10**30),
        ("booking", -1),
        ("booking", {"id": 1}),
        ("title", ""),
        ("title", "x" * 121),
        ("title", ["a list"]),
        ("body", ""),
        ("body", "x" * 5001),
        ("body", "null \x00 byte"),
    ],
)
def test_wrong_types_and_values_are_refused(customer_client, customer, field, value):
    # given
    booking = make_booking(customer=customer)

    # when
    response = customer_client.post(URL, review_body(booking, **{field: value}), format="json")

    # then
    body = assert_error(response, 400, "validation_error")
    assert field in body["errors"]
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"), [("rating", "5"), ("rating", 5.0), ("rating", False), ("booking", "pk")]
)
def test_integers_sent_as_strings_floats_or_booleans_are_refused(
    customer_client, customer, field, value
):
    # given a completed booking, and a body that writes an integer as another JSON type
    booking = make_booking(customer=customer)
    value = str(booking.pk) if value == "pk" else value
    # when
    response = customer_client.post(URL, review_body(booking, **{field: value}), format="json")
    # then
    body = assert_error(response, 400, "validation_error")
    assert list(body["errors"]) == [field]
    assert not Review.objects.exists()


@pytest.mark.parametrize("field", ["booking", "rating", "title", "body"])
def test_missing_fields_are_refused(customer_client, customer, field):
    # given
    payload = review_body(make_booking(customer=customer))
    del payload[field]

    # when
    response = customer_client.post(URL, payload, format="json")

    # then
    body = assert_error(response, 400, "validation_error")
    assert field in body["errors"]


@pytest.mark.parametrize("raw", ['{"booking": 1, "rating":', "not json", "NaN", "[1, 2"])
def test_malformed_json_is_refused(customer_client, raw):
    response = customer_client.post(URL, raw, content_type="application/json")

    assert_error(response, 400, "malformed_request")


@pytest.mark.parametrize("raw", ["[]", '"a string"', "5", "null"])
def test_a_body_that_is_not_an_object_is_refused(customer_client, raw):
    response = customer_client.post(URL, raw, content_type="application/json")

    assert_error(response, 400, "validation_error")


def test_form_encoded_body_is_refused(customer_client, customer):
    # given
    booking = make_booking(customer=customer)

    # when
    response = customer_client.post(URL, review_body(booking))

    # then
    assert_error(response, 415, "unsupported_media_type")


def test_other_methods_are_refused(customer_client):
    response = customer_client.delete(URL)

    assert_error(response, 405, "method_not_allowed")


# ------------------------------------------------------------------------------ schema


def test_schema_documents_the_reviews_endpoints(api_client):
    # when
    response = api_client.get("/api/schema/", {"format": "json"})

    # then
    assert response.status_code == 200
    paths = response.json()["paths"]
    list_get = paths["/api/v1/reviews/"]["get"]
    assert any(p["name"] == "rating" and p["in"] == "query" for p in list_get["parameters"])
    assert "requestBody" in paths["/api/v1/reviews/"]["post"]
    assert "/api/v1/reviews/stats/" in paths
