"""Request id, one JSON log line per request, and the HTTP metrics.

Order in ``MIDDLEWARE`` (outermost first)::

    core.observability.middleware.RequestLoggingMiddleware     # id, log line: sees everything
    django_prometheus.middleware.PrometheusBeforeMiddleware
    core.observability.middleware.RequestMetricsMiddleware     # http_requests_total, duration
    ...                                                        # security, whitenoise, auth, ...
    django_prometheus.middleware.PrometheusAfterMiddleware

Both label a request by its URL route pattern (``/api/v1/bookings/<int:booking_id>/``), never
its path: one series per route, not one per booking id or probing bot. A path no route
matches is ``<unmatched>``, a static file ``<static>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import LazyObject, empty

from core.http.client_ip import client_ip
from core.observability import context, metrics

access_logger = logging.getLogger("core.observability.access")

UNMATCHED = "<unmatched>"
STATIC = "<static>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def endpoint_label(request: HttpRequest) -> str:
    """The route pattern that served ``request``, with a leading slash, or a fixed marker."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return "/" + str(match.route)
    if settings.STATIC_URL and request.path.startswith(settings.STATIC_URL):
        return STATIC
    return UNMATCHED


def method_label(request: HttpRequest) -> str:
    method = request.method or ""
    return method if method in KNOWN_METHODS else "other"


def user_label(request: HttpRequest) -> str:
    """The authenticated user's id, or ``anonymous``; never loads a session to find out."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        user = user._wrapped
        if user is empty:  # nobody looked: no authentication happened in this request
            return "anonymous"
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.pk)
    return "anonymous"


class RequestLoggingMiddleware:
    """Give each request an id and write one JSON log line when it ends.

    The id is nginx's ``X-Request-ID`` when well-formed (``core.observability.context``), else
    a new one; it is echoed in the response's ``X-Request-ID``, set on every log record while
    the request is served (``RequestIdFilter``) and added as a note to an exception the view
    raises, so it appears in the traceback wherever that is printed.
    """

    header = "X-Request-ID"
    # Probes and scrapes arrive every few seconds: logged at DEBUG, not INFO.
    quiet_endpoints = frozenset({"/healthz", "/readyz", "/metrics"})
    timer = staticmethod(time.perf_counter)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = context.accept_request_id(request.headers.get(self.header))
        request.request_id = request_id  # type: ignore[attr-defined]
        with context.request_context(request_id) as ctx:
            started = self.timer()
            response = self.get_response(request)
            duration = self.timer() - started
            response[self.header] = request_id
            self.log(request, response, ctx, duration)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        request_id = getattr(request, "request_id", None)
        if request_id is not None:
            exception.add_note(f"request_id: {request_id}")

    def log(
        self,
        request: HttpRequest,
        response: HttpResponse,
        ctx: context.RequestContext,
        duration: float,
    ) -> None:
        route = endpoint_label(request)
        level = logging.DEBUG if route in self.quiet_endpoints else logging.INFO
        if not access_logger.isEnabledFor(level):
            return
        stats = ctx.stats
        access_logger.log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "route": route,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 3),
                "user_id": user_label(request),
                "client_ip": client_ip(request),
                "db_aliases": sorted(stats.db_aliases),
                "db_queries": stats.db_queries,
                "cache_hits": stats.cache_hits,
                "cache_misses": stats.cache_misses,
            },
        )


class RequestMetricsMiddleware:
    """``http_requests_total{method,endpoint,status}`` and ``http_request_duration_seconds``."""

    timer = staticmethod(time.perf_counter)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = self.timer()
        response = self.get_response(request)
        duration = self.timer() - started
        method, endpoint = method_label(request), endpoint_label(request)
        metrics.http_requests.labels(
            method=method, endpoint=endpoint, status=str(response.status_code)
        ).inc()
        metrics.http_request_duration.labels(method=method, endpoint=endpoint).observe(duration)
        return response
