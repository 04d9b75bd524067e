"""The bookings tests' small catalogue, for the emails about bookings."""

from tests.bookings.conftest import catalogue  # noqa: F401 (fixture)
