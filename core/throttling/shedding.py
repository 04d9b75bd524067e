"""Load shedding: when this worker is saturated, refuse cheap-to-retry traffic first.

Pressure is measured two ways: requests in flight in this process (gthread workers serve
several at once) and, behind nginx, queue time — now minus nginx's ``X-Request-Start``.
Views declare a priority per method in ``traffic_priority`` (``{"POST": "critical"}``, ``"*"``
for all methods):

- ``critical`` (booking creation, payments, webhooks) is never shed;
- ``low`` (blog lists, search, review lists) is shed as soon as pressure passes the limits;
- everything else is shed only past twice the limits.

Shed requests get ``503`` + ``Retry-After`` before any database work, like Stripe keeping
capacity for its critical requests.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

CRITICAL, NORMAL, LOW = "critical", "normal", "low"
RETRY_AFTER_SECONDS = 2


def view_priority(view_func: Callable[..., Any], method: str) -> str:
    owner = getattr(view_func, "cls", view_func)
    priorities = getattr(owner, "traffic_priority", {})
    return priorities.get(method) or priorities.get("*") or NORMAL


def queue_seconds(header: str, now: float) -> float:
    """Seconds since nginx received the request, from ``X-Request-Start: t=<epoch>``
    (seconds, milliseconds or microseconds); 0 when absent or unreadable."""
    value = header.strip().removeprefix("t=")
    try:
        started = float(value)
    except ValueError:
        return 0.0
    if started > 1e14:
        started /= 1e6
    elif started > 1e11:
        started /= 1e3
    return max(now - started, 0.0)


class LoadSheddingMiddleware:
    timer: Callable[[], float] = time.time

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            self.in_flight += 1
        try:
            return self.get_response(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        priority = view_priority(view_func, request.method or "")
        if priority == CRITICAL:
            return None
        factor = 1 if priority == LOW else 2
        queued = queue_seconds(request.headers.get("X-Request-Start", ""), self.timer())
        overloaded = (
            self.in_flight > settings.SHED_MAX_IN_FLIGHT * factor
            or queued > settings.SHED_MAX_QUEUE_SECONDS * factor
        )
        if not overloaded:
            return None
        from core.observability import metrics

        metrics.requests_shed.labels(priority=priority).inc()
        response = JsonResponse(
            {"code": "overloaded", "message": "The service is busy. Please retry shortly."},
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
