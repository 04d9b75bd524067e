import pytest

from tests.reviews.factories import make_review

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Casey Customer", "Casey"),
        ("  Mary Ann Smith ", "Mary"),
        ("Prince", "Prince"),
        ("", "Guest"),
    ],
)
def test_public_name_is_the_first_name_only(customer, name, shown):
    # given
    customer.name = name
    customer.save(update_fields=["name"])

    # when
    review = make_review(customer=customer)

    # then
    assert review.customer_first_name == shown
