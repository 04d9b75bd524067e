"""Middleware that keeps every answer under ``/api/`` in the API.md error shape."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware

from core.http import views

API_PREFIX = "/api/"

# Headers that describe the replaced body; every other header (security headers, Allow,
# Retry-After, RateLimit, Cache-Control, Vary, ...) still holds for the JSON one.
BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "content-language", "etag"}
)


def is_api_path(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


class CommonMiddleware(DjangoCommonMiddleware):
    """Django's, except that ``APPEND_SLASH`` never redirects an API path.

    A 301 to the slashed URL makes clients resend a POST as a GET without its body (and
    Django's DEBUG mode turns the POST case into a 500), so an API path without its trailing
    slash is a JSON 404 whose message names the right path (``core.http.views.not_found``).
    The admin keeps the redirect: browsers follow it for pages typed by hand.
    """

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if is_api_path(request):
            return False
        return super().should_redirect_with_slash(request)


class ApiErrorBodyMiddleware:
    """Replace any error answer under ``/api/`` that is not JSON with the API.md body.

    DRF views already answer errors as JSON; what is left is what Django answers itself before
    or around a view: an unknown URL, a bad ``Host`` (``DisallowedHost``), a crash. With
    ``DEBUG = True`` (``make run``) Django answers those with its technical pages, which list
    the URL patterns and settings and are not what an API client can parse; with DEBUG off the
    ``handler404``/``handler500`` views answer. This makes the API's answer the same in every
    settings module. The traceback of a crash is still logged by Django (``django.request``).

    Sits near the top of ``MIDDLEWARE`` so that it also sees what the middleware below it
    raise (``CommonMiddleware`` and CSRF check the host).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not is_api_path(request)
            or _is_json(response)
            # An answer with a body of its own kind (e.g. the schema view's YAML) is
            # replaced; an empty one (HEAD) stays empty.
            or request.method == "HEAD"
        ):
            return response
        replacement = views.error_response(request, response.status_code)
        for header, value in response.items():
            if header.lower() not in BODY_HEADERS:
                replacement[header] = value
        return replacement


def _is_json(response: HttpResponseBase) -> bool:
    content_type = response.get("Content-Type", "")
    return content_type.split(";")[0].strip() == "application/json"
