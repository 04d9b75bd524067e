"""Stable error codes of the payments API."""

from core.http.errors import ApplicationError, Conflict


class BookingNotPayable(Conflict):
    code = "booking_not_payable"
    default_message = "Only pending or confirmed bookings can be paid."


class DepositAlreadyPaid(Conflict):
    code = "deposit_already_paid"
    default_message = "This booking already has a deposit paid or awaiting confirmation."


class PaymentProviderError(ApplicationError):
    status_code = 502
    code = "payment_provider_error"
    default_message = "The payment provider could not be reached. Please retry."


class InvalidWebhook(ApplicationError):
    status_code = 400
    code = "invalid_signature"
    default_message = "The webhook signature is missing, invalid or too old."


class InvalidStatusTransition(Conflict):
    code = "invalid_status_transition"
    default_message = "The payment cannot move to that status from its current one."
