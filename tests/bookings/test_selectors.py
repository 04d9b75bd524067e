import datetime

import pytest
from django.test import override_settings

from bookings import selectors
from bookings.errors import OutsideServiceArea, SlotUnavailable
from bookings.models import Booking, DateOverride
from core.http.errors import InvalidInput
from tests.bookings.conftest import EVENING, days_ahead, make_booking

pytestmark = pytest.mark.django_db


class TestQuote:
    def test_prices_adults_and_children_and_adds_travel(self, catalogue):
        # given 20 adults and 4 children in the 9004x zone (travel 25.00)
        # when
        quote = selectors.quote_calculate(
            package=catalogue.package, adults=20, children=4, postcode="90046"
        )
        # then 20*60.00 + 4*30.00 = 1320.00 food, 25.00 travel, 20 % deposit
        assert quote.subtotal == 132000
        assert quote.travel_fee == 2500
        assert quote.total == 134500
        assert quote.deposit_due == 26900
        assert quote.currency == "USD"

    def test_raises_food_to_the_package_minimum(self, catalogue):
        quote = selectors.quote_calculate(
            package=catalogue.package, adults=5, children=0, postcode="90012"
        )
        assert quote.subtotal == 60000  # 5*60.00 = 300.00 < 600.00 minimum
        assert quote.total == 60000

    @override_settings(BOOKING_DEPOSIT_PERCENT=33)
    def test_rounds_the_deposit_up_to_the_cent(self, catalogue):
        quote = selectors.quote_calculate(
            package=catalogue.package, adults=11, children=1, postcode="90012"
        )
        assert quote.total == 69000
        assert quote.deposit_due == 22770  # exactly 33 %
        catalogue.far_zone.travel_fee = 2501
        catalogue.far_zone.save()
        quote = selectors.quote_calculate(
            package=catalogue.package, adults=11, children=1, postcode="90046"
        )
        assert quote.total == 71501
        assert quote.deposit_due == 23596  # 23595.33 rounded up

    def test_longest_postcode_prefix_wins(self, catalogue):
        assert selectors.service_zone_for_postcode(postcode="90046") == catalogue.far_zone
        assert selectors.service_zone_for_postcode(postcode="90012") == catalogue.local_zone

    def test_unknown_postcode_is_outside_the_service_area(self, catalogue):
        with pytest.raises(OutsideServiceArea):
            selectors.quote_calculate(
                package=catalogue.package, adults=10, children=0, postcode="10001"
            )

    @pytest.mark.parametrize(("adults", "children"), [(1, 0), (25, 6)])
    def test_guest_count_outside_the_package_is_refused(self, catalogue, adults, children):
        with pytest.raises(InvalidInput):
            selectors.quote_calculate(
                package=catalogue.package, adults=adults, children=children, postcode="90012"
            )

    @override_settings(BOOKING_MAX_GUESTS=12)
    def test_business_guest_limit_narrows_the_package(self, catalogue):
        with pytest.raises(InvalidInput):
            selectors.quote_calculate(
                package=catalogue.package, adults=12, children=1, postcode="90012"
            )


class TestAvailability:
    def test_counts_holding_bookings_only(self, catalogue, customer):
        # given one pending and one cancelled booking on day 10
        make_booking(catalogue, customer)
        make_booking(catalogue, customer, status=Booking.Status.CANCELLED)
        # when
        days = selectors.availability_for_range(start=days_ahead(10), end=days_ahead(11))
        # then
        assert [d.date for d in days] == [days_ahead(10), days_ahead(11)]
        assert days[0].slots[0].start_time == EVENING
        assert days[0].slots[0].remaining == 1
        assert days[1].slots[0].remaining == 2

    def test_too_soon_and_too_far_have_nothing_left(self, catalogue):
        with override_settings(BOOKING_MAX_ADVANCE_DAYS=30):
            days = selectors.availability_for_range(start=days_ahead(0), end=days_ahead(31))
        remaining = {d.date: d.slots[0].remaining for d in days}
        assert remaining[days_ahead(0)] == 0  # inside the minimum notice
        assert remaining[days_ahead(10)] == 2
        assert remaining[days_ahead(31)] == 0  # beyond the booking horizon

    def test_overrides_close_a_date_or_change_its_capacity(self, catalogue):
        DateOverride.objects.create(date=days_ahead(10), is_closed=True)
        DateOverride.objects.create(date=days_ahead(11), capacity=5)
        days = selectors.availability_for_range(start=days_ahead(10), end=days_ahead(11))
        assert days[0].slots == []
        assert days[1].slots[0].capacity == 5

    def test_query_count_does_not_grow_with_the_range(
        self, catalogue, customer, django_assert_num_queries
    ):
        make_booking(catalogue, customer)
        # one query: slots, overrides and booked counts together (issue 17; was 3)
        with django_assert_num_queries(1):
            selectors.availability_for_range(start=days_ahead(1), end=days_ahead(3))
        with django_assert_num_queries(1):
            selectors.availability_for_range(start=days_ahead(1), end=days_ahead(90))

    def test_slot_capacity_refuses_unscheduled_times(self, catalogue):
        with pytest.raises(SlotUnavailable):
            selectors.slot_capacity(date=days_ahead(10), start_time=datetime.time(9, 0))
        assert selectors.slot_capacity(date=days_ahead(10), start_time=EVENING) == 2
