"""HTTP caching: public GETs a CDN or nginx may store, ETags, 304s, and private by default.

- ``PublicCacheMixin`` (DRF views whose GET answer is the same for everyone): a ``200`` to a
  request without credentials says ``Cache-Control: public, max-age, s-maxage,
  stale-while-revalidate``; with credentials (an ``Authorization`` header or a session cookie)
  it says ``private, no-cache``, so a response that went through authentication never enters
  a shared cache. Views that authenticate add ``Vary: Authorization, Cookie``, because the
  headers differ with them; views without authenticators ignore credentials and vary by
  nothing. DRF itself adds ``Vary: Accept`` when a view has several renderers.
- Every such ``200`` carries a weak ``ETag``, and a matching ``If-None-Match`` gets ``304``.
  When every result the view used came from the cache tiers, the ETag is a digest of their
  fingerprints (``core.cache.results``), the URL and the media type: the 304 is answered
  without rendering the body. Otherwise (a cache outage, a page the cache does not hold, a
  body that also depends on the clock: ``etag_from_cache = False``) it is the body's digest.
- ``PublicCacheMixin.cached_response``: the rendered body of such an answer is kept in this
  process by that same ETag (``rendered``), so the next request for the same URL, media type
  and cached values gets the same bytes without unpickling, serializing or rendering anything.
- ``PrivateByDefaultMiddleware``: any response that says nothing about caching (personal data,
  errors, operations endpoints) gets ``Cache-Control: private, no-store``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from rest_framework.request import Request
from rest_framework.response import Response

from core.cache import conf
from core.cache.results import CachedResult, UsedResults, collect_fingerprints

R = TypeVar("R")
K = TypeVar("K")
V = TypeVar("V")

PRIVATE_NO_STORE = "private, no-store"
# Not stored by shared caches; the client may keep it but must revalidate (cheap with the ETag).
PRIVATE_REVALIDATE = "private, no-cache"
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Headers a 304 must repeat (RFC 9110, 15.4.5).
NOT_MODIFIED_HEADERS = ("Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary")
# Set on the Django request whose answer ``core.cache.replay`` may keep and replay.
REPLAYABLE_ATTRIBUTE = "replayable_results"


@dataclass(frozen=True)
class HttpCachePolicy:
    """Seconds a browser (``max_age``) and a shared cache (``s_maxage``) may reuse a public
    answer, and how long after that a cache may serve it while it fetches a new one."""

    max_age: int
    s_maxage: int
    stale_while_revalidate: int

    def header(self) -> str:
        return (
            f"public, max-age={self.max_age}, s-maxage={self.s_maxage}, "
            f"stale-while-revalidate={self.stale_while_revalidate}"
        )


class PublicCacheMixin:
    """Mix into a DRF view (before the view class) whose GET responses depend only on the URL."""

    http_cache = HttpCachePolicy(max_age=60, s_maxage=300, stale_while_revalidate=60)
    # False when the body also depends on something the cached results do not capture.
    etag_from_cache = True

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with collect_fingerprints() as used:
            self._cache_used = used
            response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            return response

    def cached_response(self, result: CachedResult[R], serialize: Callable[[R], Any]) -> Response:
        """``Response(serialize(result.value()))``, its body rendered once per process for each
        URL, media type and set of cached values: later requests get the same bytes without
        unpickling ``result`` or serializing it. Only when every result the view used so far
        came from the cache tiers and the body depends on nothing else (``etag_from_cache``)."""
        key = self._rendered_key(self.request)  # type: ignore[attr-defined]
        if key is not None and (found := rendered.get(key)) is not None:
            content_type, body = found
            response = Response()
            response.content = body  # rendered: DRF and Django render it no more
            response["Content-Type"] = content_type
            return response
        self._render_for = key
        return Response(serialize(result.value()))

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if request.method not in SAFE_METHODS or response.status_code != 200:
            return response
        used = self._used_results()
        fingerprints = used.fingerprints if used is not None else None
        answer = public_response(
            request, response, policy=self.http_cache, fingerprints=fingerprints
        )
        key = getattr(self, "_render_for", None)
        # Kept only if the ETag still names what ``cached_response`` saw: a result looked up
        # after it, or an entry that could not be read, changes the fingerprints.
        if key is not None and answer is response and key[1] == response["ETag"]:
            response.render()  # type: ignore[attr-defined]
            body = response.content  # type: ignore[attr-defined]
            rendered.put(key, (response["Content-Type"], body), len(body))
        if used is not None and used.replayable and answer is response:
            # The whole answer depends only on the URL, the media type and these results:
            # core.cache.replay may answer the next anonymous request for it.
            setattr(request._request, REPLAYABLE_ATTRIBUTE, used)
        return answer

    def _used_results(self) -> UsedResults | None:
        """The cached results this answer was built from, when its body depends on nothing
        else (every one came from the cache tiers and ``etag_from_cache``)."""
        used: UsedResults | None = getattr(self, "_cache_used", None)
        if not self.etag_from_cache or used is None or not used.fingerprints:
            return None
        return None if None in used.fingerprints else used

    def _rendered_key(self, request: Request) -> tuple[str, str] | None:
        used = self._used_results()
        if request.method not in SAFE_METHODS or used is None:
            return None
        view = f"{type(self).__module__}.{type(self).__qualname__}"
        return view, cache_etag(request, used.fingerprints)  # type: ignore[arg-type]


def public_response(
    request: Request,
    response: HttpResponseBase,
    *,
    policy: HttpCachePolicy,
    fingerprints: list[str | None] | None,
) -> HttpResponseBase:
    """Add the caching headers to a public ``200``; answer ``304`` if the client has it."""
    authenticates = bool(request.authenticators)
    shared = not (authenticates and carries_credentials(request))
    response["Cache-Control"] = policy.header() if shared else PRIVATE_REVALIDATE
    if authenticates:
        patch_vary_headers(response, ["Authorization", "Cookie"])
    if fingerprints is not None:
        etag = cache_etag(request, fingerprints)  # type: ignore[arg-type]
    else:
        response.render()  # type: ignore[attr-defined]
        etag = _weak_etag(response.content)  # type: ignore[attr-defined]
    response["ETag"] = etag
    if etag_matches(request.META.get("HTTP_IF_NONE_MATCH", ""), etag):
        return not_modified(response)
    return response


def cache_etag(request: Request, fingerprints: list[str]) -> str:
    """The ETag of an answer built from cached results only: what names its body."""
    # Asked for twice per request (the rendered body's key, then the header): computed once.
    known = getattr(request, "_cache_etag", None)
    if known is not None and known[0] == fingerprints:
        return str(known[1])
    material = [conf.release(), request.build_absolute_uri(), request.accepted_media_type]
    etag = _weak_etag("\n".join([*material, *fingerprints]).encode())
    request._cache_etag = (list(fingerprints), etag)  # type: ignore[attr-defined]
    return etag


def carries_credentials(request: HttpRequest) -> bool:
    return "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, the one ``If-None-Match`` uses (RFC 9110, 13.1.2)."""
    if not if_none_match:
        return False
    candidates = parse_etags(if_none_match)
    return "*" in candidates or _opaque(etag) in {_opaque(tag) for tag in candidates}


def not_modified(response: HttpResponseBase) -> HttpResponseNotModified:
    answer = HttpResponseNotModified()
    for header in NOT_MODIFIED_HEADERS:
        if response.has_header(header):
            answer[header] = response[header]
    return answer


class ProcessMemo(Generic[K, V]):
    """Values this process derived from cached results, least recently used out first,
    bounded by bytes: ``1 / share`` of ``CACHE_LOCAL_MAX_BYTES``.

    Nothing here is invalidated. Either the key names everything the value depends on (an ETag
    from ``cache_etag`` names the release, the URL, the media type and the exact bytes of every
    cached value a body was built from: a write gives the values new fingerprints, and what was
    derived from the old ones is simply not asked for again), or the value carries what it was
    derived from and is checked before each use (``core.cache.replay``).
    """

    def __init__(self, share: int) -> None:
        self.share = share
        self._lock = threading.Lock()
        self._values: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._values.get(key)
            if found is None:
                return None
            self._values.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V, size: int) -> None:
        limit = conf.local_max_bytes() // self.share
        if size > limit // 8:
            return  # one value may not take over the memo
        with self._lock:
            self._pop(key)
            self._values[key] = (value, size)
            self._bytes += size
            while self._bytes > limit:
                self._pop(next(iter(self._values)))

    def discard(self, key: K) -> None:
        with self._lock:
            self._pop(key)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._values)

    def _pop(self, key: K) -> None:
        found = self._values.pop(key, None)
        if found is not None:
            self._bytes -= found[1]


# Rendered bodies by (view, ETag): (content type, body).
rendered: ProcessMemo[tuple[str, str], tuple[str, bytes]] = ProcessMemo(share=2)


def _weak_etag(material: bytes) -> str:
    # Weak: it names the data, not the bytes (nginx's gzip keeps weak ETags, drops strong ones).
    return f'W/"{hashlib.blake2b(material, digest_size=16).hexdigest()}"'


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")


class PrivateByDefaultMiddleware:
    """Give ``Cache-Control: private, no-store`` to every response that sets none.

    Place it after ``WhiteNoiseMiddleware`` (static files set their own) and before the views.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = PRIVATE_NO_STORE
        return response
