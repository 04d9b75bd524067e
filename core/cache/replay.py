"""Public answers replayed in front of the middleware chain, while their cached data holds.

The hottest reads (featured posts, the post list's first page, a post's detail) come from the
cache tiers and their bodies are rendered once per process (``core.cache.http``). What is left
of their cost is the chain around the view: URL resolving, a dozen middleware, DRF's request,
negotiation and authentication — about half of the backend CPU such a request takes.

``PublicAnswerReplayMiddleware`` keeps, per process, the whole ``200`` a ``PublicCacheMixin``
view gave an anonymous ``GET`` when that answer depends only on its URL, media type and cached
results (``REPLAYABLE_ATTRIBUTE``), under every input of the request that can change it: scheme,
host, path, query string and ``Accept``. The next such request is answered here, right after
load shedding, when

- it carries no credentials and no read-your-writes pin (those go through the whole chain);
- each cached result the view used, looked up again exactly as the view did, still has the same
  fingerprint: the same versions, L1, stale-while-revalidate, cache metrics and replica rules
  as the view itself, so a replayed answer is never staler than the view's would be (a write
  changes a fingerprint and the kept answer is dropped);
- the throttle counted it under the scopes the view's throttle used for that answer (before the
  lookups: a refused flood costs no cache lookup). The first refused request goes on to the
  view, which answers the ``429`` from the outcome already counted (``RateLimitThrottle`` does
  not count it twice); its headers are kept with the answer, and later refusals are answered
  here with them and the body, ``Retry-After`` and RateLimit headers of their own outcome: a
  refused client's flood costs no view, no DRF and (with the throttle's deny cache,
  ``core/throttling/denials.py``) no Redis round trip.

The middleware outside this one still runs: request id, the JSON log line, ``http_requests_
total`` and the security headers. Replayed answers skip django-prometheus's per-view series
(``PrometheusAfterMiddleware`` is the innermost middleware); our own metrics count them.
Conditional requests are answered ``304`` here too; ``HEAD`` goes through the chain.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import ResolverMatch
from rest_framework.exceptions import Throttled

from core.cache import conf
from core.cache.http import (
    REPLAYABLE_ATTRIBUTE,
    ProcessMemo,
    carries_credentials,
    etag_matches,
    not_modified,
)
from core.cache.results import CachedResult, UsedResults, collect_fingerprints
from core.db.pins import ClientPins
from core.db.routing import routing_scope
from core.throttling.headers import RATE_LIMIT_HEADERS, add_rate_limit_headers
from core.throttling.limiter import Outcome
from core.throttling.policies import scope_policy
from core.throttling.throttles import count_request, outcome_of

logger = logging.getLogger(__name__)

# The request's inputs a public answer may depend on (``build_absolute_uri``, DRF's content
# negotiation): two requests alike in all of them get the same answer from the view.
KEY_HEADERS = ("HTTP_HOST", "HTTP_X_FORWARDED_HOST", "SERVER_NAME", "SERVER_PORT", "HTTP_ACCEPT")
# Set per request by the middleware outside this one or given again by the throttle.
PER_REQUEST_HEADERS = frozenset(h.lower() for h in ("X-Request-ID", *RATE_LIMIT_HEADERS))


@dataclass(frozen=True)
class KeptAnswer:
    lookups: tuple[Callable[[], CachedResult[Any]], ...]
    fingerprints: tuple[str | None, ...]
    throttle_scopes: tuple[str, ...] | None  # None: kept while throttling was off
    resolver_match: ResolverMatch | None  # the route, for the log line and metrics labels
    headers: dict[str, str]
    body: bytes
    # The headers of the view's 429 for this answer, but those that depend on the outcome
    # (filled by the first refusal the view answered; empty until then).
    refusal_headers: dict[str, str] = field(default_factory=dict)


# A quarter of CACHE_LOCAL_MAX_BYTES (rendered bodies have half, L1 its own budget).
answers: ProcessMemo[tuple[str, ...], KeptAnswer] = ProcessMemo(share=4)


def replay_key(request: HttpRequest) -> tuple[str, ...]:
    meta = request.META
    return (
        request.scheme,
        request.path,
        meta.get("QUERY_STRING", ""),
        *(meta.get(name, "") for name in KEY_HEADERS),
    )


def _may_replay(request: HttpRequest) -> bool:
    return (
        request.method == "GET"
        and conf.enabled()
        and not carries_credentials(request)
        and ClientPins.cookie_name not in request.COOKIES
    )


class PublicAnswerReplayMiddleware:
    """Place right after ``LoadSheddingMiddleware`` (a replay is cheaper than shedding it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not _may_replay(request):
            return self.get_response(request)
        key = replay_key(request)
        kept = answers.get(key)
        if kept is not None:
            replayed = self._replay(request, key, kept)
            if replayed is not None:
                return replayed
        response = self.get_response(request)
        if kept is not None and response.status_code == 429:
            _keep_refusal(request, kept, response)
        self._keep(request, key, response)
        return response

    def _replay(
        self, request: HttpRequest, key: tuple[str, ...], kept: KeptAnswer
    ) -> HttpResponseBase | None:
        """The kept answer, or None to let the chain answer (and maybe keep a new one)."""
        outcome = None
        if settings.THROTTLE_ENABLED:
            if kept.throttle_scopes is None:
                return None
            # Counted first: a refusal needs none of the lookups (once counted, the view's
            # throttle uses this outcome if the chain answers after all).
            outcome = count_request(request, None, kept.throttle_scopes)
            if not outcome.allowed:
                return _refusal(request, kept, outcome)
        with routing_scope():
            try:
                with collect_fingerprints() as used:
                    for lookup in kept.lookups:
                        lookup()
            except Exception:
                # A failing lookup (the cache and the database both down, ...) is the view's
                # to answer, with the API's error body: it will fail the same way.
                logger.debug("replay lookup failed; the view answers", exc_info=True)
                return None
        if tuple(used.fingerprints) != kept.fingerprints:
            answers.discard(key)
            return None
        request.resolver_match = kept.resolver_match
        response: HttpResponseBase = HttpResponse(kept.body, headers=kept.headers)
        if etag_matches(request.META.get("HTTP_IF_NONE_MATCH", ""), kept.headers["ETag"]):
            response = not_modified(response)
        add_rate_limit_headers(response, outcome)
        return response

    def _keep(self, request: HttpRequest, key: tuple[str, ...], response: HttpResponseBase) -> None:
        used: UsedResults | None = getattr(request, REPLAYABLE_ATTRIBUTE, None)
        if used is None or response.status_code != 200 or response.cookies:
            return
        if not isinstance(response, HttpResponse) or "ETag" not in response:
            return
        outcome = outcome_of(request)
        scopes = outcome.scopes if outcome is not None else None
        if settings.THROTTLE_ENABLED and (scopes is None or not _replayable_scopes(scopes)):
            return
        headers = {
            name: value
            for name, value in response.items()
            if name.lower() not in PER_REQUEST_HEADERS
        }
        kept = KeptAnswer(
            lookups=tuple(used.lookups),
            fingerprints=tuple(used.fingerprints),
            throttle_scopes=scopes,
            resolver_match=getattr(request, "resolver_match", None),
            headers=headers,
            body=response.content,
        )
        answers.put(key, kept, len(kept.body) + sum(len(n) + len(v) for n, v in headers.items()))


# Set from the outcome, per request.
_REFUSAL_OWN_HEADERS = PER_REQUEST_HEADERS | {"retry-after", "content-length"}


def _keep_refusal(request: HttpRequest, kept: KeptAnswer, response: HttpResponseBase) -> None:
    """Keep the headers of the view's 429 for a refused replayable request."""
    outcome = outcome_of(request)
    if outcome is None or outcome.allowed or not isinstance(response, HttpResponse):
        return
    if response.cookies or kept.refusal_headers:
        return
    headers = {n: v for n, v in response.items() if n.lower() not in _REFUSAL_OWN_HEADERS}
    if "Content-Length" in response:
        headers["Content-Length"] = ""  # present: computed per answer
    kept.refusal_headers.update(headers)


def _refusal(request: HttpRequest, kept: KeptAnswer, outcome: Outcome) -> HttpResponse | None:
    """The 429 the view would give for ``outcome`` (None until the view gave one: the chain
    answers it, and its headers are kept)."""
    if not kept.refusal_headers:
        return None
    wait = math.ceil(outcome.retry_after)
    body = _refusal_body(wait)
    response = HttpResponse(body, status=429, headers=kept.refusal_headers)
    if "Content-Length" in kept.refusal_headers:
        response["Content-Length"] = str(len(body))
    response["Retry-After"] = str(wait)
    request.resolver_match = kept.resolver_match
    add_rate_limit_headers(response, outcome)
    # Django's handler would log each one as a WARNING besides our access line: a flood of
    # refusals would be a flood of warnings (the access line says 429 already).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@lru_cache(maxsize=1024)
def _refusal_body(wait: int) -> bytes:
    """What core/http/exception_handler.py answers for DRF's ``Throttled``, rendered as DRF's
    JSONRenderer does (compact, UTF-8); built once per wait (DRF builds it translated)."""
    detail = {"code": "throttled", "message": str(Throttled(wait=wait).detail)}
    return json.dumps(detail, ensure_ascii=False, separators=(",", ":")).encode()


def _replayable_scopes(scopes: tuple[str, ...]) -> bool:
    """Scopes the replay can count exactly as the view's throttle does: keyed by IP or client
    (not by a login's email, read from the body), and failing open while Redis is down (a
    fail-closed scope's 503 is the view's to give)."""
    policies = [scope_policy(scope) for scope in scopes]
    return all(policy.key in ("ip", "client") and not policy.fails_closed for policy in policies)
