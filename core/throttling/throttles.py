"""The DRF throttle: every API view's limits, counted atomically in one Redis round trip.

A view names its extra scopes with ``throttle_scopes`` (``{"POST": ["booking_create"]}``,
``"*"`` for every method) or computes them in ``get_throttle_scopes(request)``. On top of
those, anonymous requests fall under ``anon`` (per IP) and authenticated ones under ``user``
(per user) and ``user_ip`` (per IP). One throttle class counts all of them together, so a
request refused by one limit is counted by none (DRF's one-class-per-limit design counts it
in every limit checked before the refusing one).
"""

import dataclasses
import math
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.throttling.limiter import Outcome, get_limiter, limits_for

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView

# The attribute the RateLimit headers middleware reads the outcome from.
OUTCOME_ATTRIBUTE = "rate_limit_outcome"


def view_scopes(request: Request, view: "APIView") -> list[str]:
    """The scopes of ``view`` for this request's method, before the base ones."""
    if hasattr(view, "get_throttle_scopes"):
        return list(view.get_throttle_scopes(request))
    by_method: dict[str, list[str]] = getattr(view, "throttle_scopes", {})
    return [*by_method.get("*", []), *by_method.get(request.method or "", [])]


class RateLimitThrottle(BaseThrottle):
    # None: Redis's own clock; tests inject a fixed one.
    timer: Callable[[], float] | None = None
    jitter: Callable[[int, int], int] = random.randint

    def allow_request(self, request: Request, view: "APIView") -> bool:
        """Return True to let the request through. Raises ``ThrottleUnavailable`` (503) when a
        sensitive scope cannot be counted."""
        if not settings.THROTTLE_ENABLED:
            return True
        outcome = outcome_of(request._request)
        if outcome is None:  # else counted (and refused) already, by core.cache.replay
            user = request.user
            base = ["user", "user_ip"] if user.is_authenticated else ["anon"]
            scopes = [*view_scopes(request, view), *base]
            if any(settings.THROTTLE_SCOPES[s]["key"] == "email" for s in scopes):
                request._request.throttle_email = _email_from(request)
            outcome = count_request(request._request, user, scopes)
        self._outcome = outcome
        return outcome.allowed

    def wait(self) -> float | None:
        return math.ceil(self._outcome.retry_after)


def count_request(request: HttpRequest, user: object, scopes: Sequence[str]) -> Outcome:
    """Count ``request`` under ``scopes`` (those that apply to ``user``), once: the outcome is
    kept on the request for the RateLimit headers and for the throttle."""
    limits = limits_for(request, user, scopes)
    timer = RateLimitThrottle.timer
    outcome = get_limiter().hit(limits, now=timer() if timer else None)
    if not outcome.allowed:
        jitter = RateLimitThrottle.jitter(0, settings.THROTTLE_RETRY_JITTER_SECONDS)
        outcome = dataclasses.replace(outcome, retry_after=outcome.retry_after + jitter)
    setattr(request, OUTCOME_ATTRIBUTE, outcome)
    return outcome


def _email_from(request: Request) -> str | None:
    try:
        data = request.data
    except Exception:  # a malformed body is the view's 400 to give, not the throttle's
        return None
    email = data.get("email") if isinstance(data, dict) else None
    return email if isinstance(email, str) else None


def outcome_of(request: object) -> Outcome | None:
    return getattr(request, OUTCOME_ATTRIBUTE, None)
