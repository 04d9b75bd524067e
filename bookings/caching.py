"""What the catalogue and availability cache and the writes that invalidate them (warming:
``bookings/warming.py``).

- ``PACKAGES``: the active packages (``/packages/``); any package saved or deleted.
- ``SERVICE_AREA``: the active zones (``/bookings/service-area/``); any zone saved or deleted.
- Availability is cached per date: each date depends on ``SCHEDULE`` (the weekly time slots and
  staff's date overrides: a change there may touch any date) and on its own date scope, which a
  booking created, cancelled or moved between statuses on that date bumps. A booking saved
  whole (the admin's form, which may also change its date) bumps ``SCHEDULE``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models.signals import post_delete, post_save

from bookings.models import Booking, DateOverride, Package, ServiceZone, TimeSlot
from core.cache import CacheKey, invalidate, invalidate_on_change

PACKAGES = "bookings.packages"
SERVICE_AREA = "bookings.service_area"
SCHEDULE = "bookings.schedule"


def availability_date_scope(day: datetime.date) -> str:
    return f"bookings.availability_date:{day.isoformat()}"


# ------------------------------------------------------------------------------ keys


def packages_key() -> CacheKey:
    return CacheKey("bookings.packages", scopes=(PACKAGES,))


def service_area_key() -> CacheKey:
    return CacheKey("bookings.service_area", scopes=(SERVICE_AREA,))


def availability_day_key(day: datetime.date) -> CacheKey:
    return CacheKey(
        "bookings.availability_day",
        parts=(day,),
        scopes=(SCHEDULE, availability_date_scope(day)),
    )


# ------------------------------------------------------------------------------ invalidation


def _booking_saved(sender: type[Booking], instance: Booking, created: bool, **kwargs: Any) -> None:
    if created or kwargs.get("update_fields") is not None:
        # booking_create and the status services: the date is the one it always had.
        invalidate(availability_date_scope(_event_date(instance)))
    else:
        invalidate(SCHEDULE)  # a whole-row save may have moved the booking to another date


def _booking_deleted(sender: type[Booking], instance: Booking, **kwargs: Any) -> None:
    invalidate(availability_date_scope(_event_date(instance)))


def _event_date(booking: Booking) -> datetime.date:
    # What was assigned, which may still be a string ("2030-01-01") right after create().
    return Booking._meta.get_field("event_date").to_python(booking.event_date)


def connect() -> None:
    """Called once from ``BookingsConfig.ready()``."""
    invalidate_on_change(Package, scopes=[PACKAGES])
    invalidate_on_change(ServiceZone, scopes=[SERVICE_AREA])
    invalidate_on_change(TimeSlot, DateOverride, scopes=[SCHEDULE])
    post_save.connect(_booking_saved, sender=Booking, dispatch_uid="bookings.caching.saved")
    post_delete.connect(_booking_deleted, sender=Booking, dispatch_uid="bookings.caching.deleted")
