"""The DRF throttle: every API view's limits, counted atomically in one Redis round trip.

A view names its extra scopes with ``throttle_scopes`` (``{"POST": ["booking_create"]}``,
``"*"`` for every method) or computes them in ``get_throttle_scopes(request)``. On top of
those, anonymous requests fall under ``anon`` (per IP) and authenticated ones under ``user``
(per user) and ``user_ip`` (per IP). One throttle class counts all of them together, so a
request refused by one limit is counted by none (DRF's one-class-per-limit design counts it
in every limit checked before the refusing one).

Failed authentication counts against the client's address (``auth_failures_ip``): a request
refused before the throttle ran (a bad token, a missing one, a forbidden action) is counted by
``count_early_refusal`` from the exception handler, so it gets the RateLimit headers too, and a
bad token is charged to ``auth_failures_ip``. While that budget is spent, every request from the
address that presents a token is refused, valid or not: a guesser learns nothing more.
"""

import dataclasses
import math
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.http.errors import ApplicationError
from core.throttling.limiter import Outcome, get_limiter, limits_for
from core.throttling.policies import scope_policy

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView

# The attribute the RateLimit headers middleware reads the outcome from.
OUTCOME_ATTRIBUTE = "rate_limit_outcome"
# Charged per client address by each failed authentication (a bad or revoked token).
AUTH_FAILURE_SCOPE = "auth_failures_ip"


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
            scopes = [*view_scopes(request, view), *base_scopes(user)]
            keys = {scope_policy(s).key for s in scopes}
            if keys & {"email", "email_ip"} and not hasattr(request._request, "throttle_email"):
                # Where the login views and the admin read it (core/throttling/django_views.py).
                request._request.throttle_email = _email_from(request)  # type: ignore[attr-defined]
            outcome = count_request(
                request._request, user, scopes, check_only=_auth_failure_check(request._request)
            )
        self._outcome = outcome
        return outcome.allowed

    def wait(self) -> float | None:
        return math.ceil(self._outcome.retry_after)


def base_scopes(user: Any) -> list[str]:
    return ["user", "user_ip"] if getattr(user, "is_authenticated", False) else ["anon"]


def throttle_now() -> float | None:
    """The throttle's clock: None for Redis's own, else the injected one."""
    timer = RateLimitThrottle.timer
    return timer() if timer else None


def count_request(
    request: HttpRequest, user: object, scopes: Sequence[str], *, check_only: Sequence[str] = ()
) -> Outcome:
    """Count ``request`` under ``scopes`` (those that apply to ``user``), once: the outcome is
    kept on the request for the RateLimit headers and for the throttle. ``check_only`` scopes
    may refuse it without being charged."""
    limits = limits_for(request, user, scopes, check_only=check_only)
    outcome = get_limiter().hit(limits, now=throttle_now())
    if not outcome.allowed:
        jitter = RateLimitThrottle.jitter(0, settings.THROTTLE_RETRY_JITTER_SECONDS)
        outcome = dataclasses.replace(outcome, retry_after=outcome.retry_after + jitter)
    setattr(request, OUTCOME_ATTRIBUTE, outcome)
    return outcome


def count_early_refusal(exc: Exception, context: dict[str, Any]) -> Exception:
    """Count a request refused before its view's throttle ran (authentication, permissions,
    content negotiation) and return the exception to answer with: ``exc``, or ``Throttled``
    when a limit is full. A failed authentication is charged to ``auth_failures_ip``.
    ``exc`` unchanged when the request was counted already or the view is not throttled."""
    request, view = context.get("request"), context.get("view")
    if (
        not settings.THROTTLE_ENABLED
        or not isinstance(request, Request)
        or view is None
        or outcome_of(request._request) is not None
        or isinstance(exc, ApplicationError | exceptions.Throttled)
        or not any(isinstance(t, RateLimitThrottle) for t in view.get_throttles())
    ):
        return exc
    failed = isinstance(exc, exceptions.AuthenticationFailed)
    try:
        user = request.user
    except exceptions.APIException as late:  # authenticated only now (a 406 came first)
        user, failed = None, isinstance(late, exceptions.AuthenticationFailed)
    scopes = [*view_scopes(request, view), *base_scopes(user)]
    try:
        outcome = count_request(
            request._request,
            user,
            [*scopes, AUTH_FAILURE_SCOPE] if failed else scopes,
            check_only=() if failed else _auth_failure_check(request._request),
        )
    except ApplicationError as unavailable:  # a sensitive scope cannot be counted
        return unavailable
    if outcome.allowed:
        return exc
    return exceptions.Throttled(wait=math.ceil(outcome.retry_after))


def _auth_failure_check(request: HttpRequest) -> tuple[str, ...]:
    """Requests presenting credentials are refused while their address's budget of failed
    authentications is spent (checked, not charged)."""
    return (AUTH_FAILURE_SCOPE,) if request.META.get("HTTP_AUTHORIZATION") else ()


def _email_from(request: Request) -> str | None:
    try:
        data = request.data
    except Exception:  # a malformed body is the view's 400 to give, not the throttle's
        return None
    email = data.get("email") if isinstance(data, dict) else None
    return email if isinstance(email, str) else None


def outcome_of(request: object) -> Outcome | None:
    return getattr(request, OUTCOME_ATTRIBUTE, None)
