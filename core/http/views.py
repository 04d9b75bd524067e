"""JSON answers for errors raised outside DRF views (unknown URLs, bad hosts, crashes)."""

from http import HTTPStatus

from django.http import HttpRequest, JsonResponse
from django.urls import is_valid_path
from drf_spectacular.views import SpectacularSwaggerSplitView

# Codes of the statuses Django answers by itself; others get a code from their phrase.
CODES = {
    400: "bad_request",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    500: "server_error",
}
MESSAGES = {
    400: "Bad request.",
    403: "Permission denied.",
    404: "Not found.",
    500: "An unexpected error occurred.",
}


def error_response(request: HttpRequest, status: int) -> JsonResponse:
    """The API.md body for ``status`` when no view gave one."""
    if status == 404:
        return not_found(request)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = CODES.get(status, phrase.lower().replace(" ", "_").replace("-", "_"))
    message = MESSAGES.get(status, f"{phrase}.")
    return JsonResponse({"code": code, "message": message}, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    message = "Not found."
    # API paths end with a slash and are never redirected to it (core.http.middleware):
    # say which path was meant.
    path = request.path_info
    if not path.endswith("/") and is_valid_path(f"{path}/", getattr(request, "urlconf", None)):
        message = f"Not found. API paths end with a slash: {request.path}/"
    return JsonResponse({"code": "not_found", "message": message}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(request, 500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, 403)


class ApiDocsView(SpectacularSwaggerSplitView):
    """The browsable API docs (Swagger UI). Its only renderer is an HTML template, which an
    OPTIONS answer (DRF's metadata, no template) crashes: the page answers GET and HEAD only,
    anything else is a 405."""

    http_method_names = ["get", "head"]
