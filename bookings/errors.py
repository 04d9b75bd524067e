"""Stable error codes of the bookings API (API.md)."""

from core.http.errors import ApplicationError, Conflict


class OutsideServiceArea(ApplicationError):
    status_code = 400
    code = "outside_service_area"
    default_message = "We do not serve this postcode yet."


class SlotUnavailable(ApplicationError):
    status_code = 400
    code = "slot_unavailable"
    default_message = "This date and time cannot be booked."


class SlotFull(Conflict):
    code = "slot_full"
    default_message = "This time slot is fully booked. Please choose another."


class TooLateToCancel(Conflict):
    code = "too_late_to_cancel"
    default_message = "Bookings can only be cancelled more than 48 hours before the event."


class InvalidStatusTransition(Conflict):
    code = "invalid_status_transition"
    default_message = "The booking cannot move to that status from its current one."
