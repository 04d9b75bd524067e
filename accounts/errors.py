"""Stable error codes of the accounts API."""

from core.http.errors import ApplicationError


class InvalidCredentials(ApplicationError):
    status_code = 400
    code = "invalid_credentials"
    default_message = "Unable to log in with the provided email and password."
