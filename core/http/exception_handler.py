"""Maps every exception a view can raise to the API.md error body and status."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.http.errors import ApplicationError, PayloadTooLarge, ServiceUnavailable
from core.observability.logging import one_line
from core.throttling.throttles import count_early_refusal

logger = logging.getLogger(__name__)


class DatabaseUnavailable(ServiceUnavailable):
    """The primary database cannot be reached (restarting, failing over): retry shortly.
    Nothing was written — the request's transaction never committed."""

    code = "database_unavailable"
    default_message = "The database is temporarily unavailable. Please retry shortly."
    retry_after_seconds = 5


# Stable codes for DRF's own exceptions. Anything not listed uses DRF's default_code.
DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Return the error response for ``exc``, or None to let Django answer 500."""
    # Refused before the throttle ran (a bad token, no permission): counted now, maybe a 429.
    exc = count_early_refusal(exc, context)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, OperationalError | InterfaceError):
        # Connection refused or lost (a replica's is already retried on the primary): a clean
        # 503 the client can retry, not a 500.
        logger.warning("database unavailable: %s", one_line(exc, 200))
        exc = DatabaseUnavailable()
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(exc.body(), status=exc.status_code, headers=exc.headers())

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=_django_validation_detail(exc))

    if not isinstance(exc, exceptions.APIException):
        return None

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]

    body: dict[str, Any] = {"code": _code_for(exc)}
    if isinstance(exc, exceptions.ValidationError):
        body["message"] = "The request contains invalid data."
        body["errors"] = _field_errors(exc.detail)
    else:
        body["message"] = str(exc.detail)

    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def _code_for(exc: exceptions.APIException) -> str:
    for exc_class, code in DRF_CODES.items():
        if isinstance(exc, exc_class):
            return code
    return str(exc.default_code)


def _django_validation_detail(exc: DjangoValidationError) -> Any:
    if hasattr(exc, "error_dict"):
        return exc.message_dict
    return {"non_field_errors": exc.messages}


def _field_errors(detail: Any) -> dict[str, Any]:
    """Normalise DRF's detail (list, dict or string) to ``{field: [messages]}``."""
    if isinstance(detail, dict):
        return {str(field): _messages(value) for field, value in detail.items()}
    return {"non_field_errors": _messages(detail)}


def _messages(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _messages(item) for key, item in value.items()}
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return [str(item) for item in value]
        return [_messages(item) for item in value]
    return [str(value)]
