"""RateLimit-Policy / RateLimit response headers (IETF httpapi-ratelimit-headers, draft 11).

Every response of a throttled endpoint describes its tightest limit: the one with the fewest
requests left (ties: the one that resets last), e.g.::

    RateLimit-Policy: "anon_60";q=100;w=60
    RateLimit: "anon_60";r=42;t=17
"""

import math
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from core.throttling.limiter import Outcome
from core.throttling.throttles import outcome_of

RATE_LIMIT_HEADERS = ("RateLimit-Policy", "RateLimit")


class RateLimitHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        add_rate_limit_headers(response, outcome_of(request))
        return response


def add_rate_limit_headers(response: HttpResponseBase, outcome: Outcome | None) -> None:
    """Describe ``outcome``'s tightest limit (nothing when the request was not throttled)."""
    if outcome is not None and outcome.tightest is not None:
        scope, state = outcome.tightest
        name = f"{scope}_{state.limit.rate.period}"
        response["RateLimit-Policy"] = (
            f'"{name}";q={state.limit.rate.limit};w={state.limit.rate.period}'
        )
        response["RateLimit"] = f'"{name}";r={state.remaining};t={math.ceil(state.reset)}'
