import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviews.models import Review
from tests.reviews.factories import make_review

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:reviews_review_changelist")


@pytest.fixture
def admin_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def test_changelist_renders(admin_client, customer):
    # given
    for rating in (1, 5):
        make_review(customer=customer, rating=rating, status=Review.Status.PENDING)

    # when
    response = admin_client.get(CHANGELIST)

    # then
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2


def test_changelist_query_count_does_not_grow_with_reviews(admin_client, customer, other_customer):
    # given
    make_review(customer=customer)

    def changelist_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(queries)

    with_one = changelist_queries()
    for index in range(10):
        make_review(customer=other_customer if index % 2 else customer)

    # when
    with_eleven = changelist_queries()

    # then
    assert with_eleven == with_one


@pytest.mark.parametrize(
    "query",
    [
        {"status__exact": "pending"},
        {"rating": "5"},
        {"q": "Great"},
        {"q": "casey"},
        {"q": "12"},
    ],
)
def test_changelist_filters_and_search(admin_client, customer, query):
    # given
    make_review(customer=customer, rating=5, status=Review.Status.PENDING, title="Great night")

    # when
    response = admin_client.get(CHANGELIST, query)

    # then
    assert response.status_code == 200


def test_change_page_renders_read_only(admin_client, customer):
    # given
    review = make_review(customer=customer)

    # when
    response = admin_client.get(reverse("admin:reviews_review_change", args=[review.pk]))

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}


def test_staff_cannot_add_reviews(admin_client):
    response = admin_client.get(reverse("admin:reviews_review_add"))

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("action", "expected"),
    [("approve_selected", Review.Status.APPROVED), ("reject_selected", Review.Status.REJECTED)],
)
def test_bulk_moderation_actions(admin_client, staff_user, customer, action, expected):
    # given
    selected = [make_review(customer=customer, status=Review.Status.PENDING) for _ in range(2)]
    other = make_review(customer=customer, status=Review.Status.PENDING)

    # when
    response = admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [r.pk for r in selected]},
        follow=True,
    )

    # then
    assert response.status_code == 200
    assert "2 review(s)" in response.content.decode()
    for review in selected:
        review.refresh_from_db()
        assert review.status == expected
        assert review.moderated_by_id == staff_user.pk
        assert review.moderated_at is not None
    other.refresh_from_db()
    assert other.status == Review.Status.PENDING


def test_approve_across_all_filtered_reviews(admin_client, customer):
    # given
    low = make_review(customer=customer, rating=1, status=Review.Status.PENDING)
    high = make_review(customer=customer, rating=5, status=Review.Status.PENDING)

    # when: "select all N reviews" on a list filtered to rating 5
    admin_client.post(
        f"{CHANGELIST}?rating=5",
        {"action": "approve_selected", "select_across": "1", "_selected_action": [high.pk]},
    )

    # then
    low.refresh_from_db()
    high.refresh_from_db()
    assert (low.status, high.status) == (Review.Status.PENDING, Review.Status.APPROVED)
