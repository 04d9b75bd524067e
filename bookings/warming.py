"""What ``warm_cache`` fills for bookings: the catalogue, the service area and the next days'
availability."""

from __future__ import annotations

import datetime

from django.utils import timezone

from bookings import selectors
from core.cache import warming

# Availability warmed ahead: the days customers look at first.
WARM_AVAILABILITY_DAYS = 30


def _warm_availability() -> None:
    today = timezone.localdate()
    end = today + datetime.timedelta(days=WARM_AVAILABILITY_DAYS - 1)
    selectors.availability_for_range(start=today, end=end)


def connect() -> None:
    """Called once from ``BookingsConfig.ready()``."""
    warming.register("bookings.packages", selectors.package_list_active)
    warming.register("bookings.service_area", selectors.service_zone_list_public)
    warming.register("bookings.availability_day", _warm_availability)
