import pytest

from reviews import selectors
from reviews.models import Review
from tests.reviews.factories import make_review

pytestmark = pytest.mark.django_db


def test_list_approved_returns_only_approved_newest_first(customer):
    # given
    older = make_review(customer=customer)
    make_review(customer=customer, status=Review.Status.PENDING)
    make_review(customer=customer, status=Review.Status.REJECTED)
    newer = make_review(customer=customer)

    # when
    reviews = list(selectors.review_list_approved())

    # then
    assert reviews == [newer, older]


def test_list_approved_filters_by_rating(customer):
    # given
    five = make_review(customer=customer, rating=5)
    make_review(customer=customer, rating=4)

    # when
    reviews = list(selectors.review_list_approved(rating=5))

    # then
    assert reviews == [five]


def test_stats_without_reviews(django_assert_num_queries):
    # when
    with django_assert_num_queries(1):
        stats = selectors.review_stats()

    # then
    assert stats == {
        "count": 0,
        "average": None,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }


def test_stats_count_only_approved_reviews_in_one_query(customer, django_assert_num_queries):
    # given
    for rating in (5, 5, 4, 3, 1, 5):
        make_review(customer=customer, rating=rating)
    make_review(customer=customer, rating=1, status=Review.Status.PENDING)
    make_review(customer=customer, rating=1, status=Review.Status.REJECTED)

    # when
    with django_assert_num_queries(1):
        stats = selectors.review_stats()

    # then
    assert stats == {
        "count": 6,
        "average": 3.83,  # 23 / 6 = 3.8333...
        "distribution": {"1": 1, "2": 0, "3": 1, "4": 1, "5": 3},
    }


def test_stats_average_rounds_half_up(customer):
    # given: 33 / 8 = 4.125 exactly, which float rounding would make 4.12
    for rating in (5, 5, 5, 5, 4, 4, 4, 1):
        make_review(customer=customer, rating=rating)

    # when
    stats = selectors.review_stats()

    # then
    assert stats["average"] == 4.13
