"""The one exception hierarchy of the API; each maps to the error body in API.md.

Services raise these; ``core.http.exception_handler`` turns them into
``{"code", "message", "errors"?}`` with the class's HTTP status. Each app declares its own
stable codes as subclasses in its ``errors.py``.
"""

from typing import Any


class ApplicationError(Exception):
    """A failure the client can act on. Subclasses set ``status_code``, ``code`` and a message."""

    status_code: int = 400
    code: str = "bad_request"
    default_message: str = "The request could not be processed."

    def __init__(self, message: str | None = None, *, errors: dict[str, list[str]] | None = None):
        self.message = message or self.default_message
        self.errors = errors
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        """Extra response headers, e.g. ``Retry-After``."""
        return {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class InvalidInput(ApplicationError):
    """Input that passed the serializer but breaks a business rule, e.g. too many guests."""

    status_code = 400
    code = "validation_error"
    default_message = "The request contains invalid data."

    def __init__(self, field: str, *messages: str):
        super().__init__(messages[0], errors={field: list(messages)})


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state of the resource."


class PayloadTooLarge(ApplicationError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class ServiceUnavailable(ApplicationError):
    status_code = 503
    code = "service_unavailable"
    default_message = "The service is temporarily unavailable. Please retry shortly."
    retry_after_seconds = 5

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}
