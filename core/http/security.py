"""Content-Security-Policy for the HTML pages we serve: the admin and the API docs.

The JSON API renders no HTML and gets no policy. The admin and the docs load only our own
scripts and styles (the docs' Swagger UI comes from drf-spectacular-sidecar's static files, not a
CDN), so their policies can refuse everything else: an injected ``<script>``, inline event
handlers, a form posting elsewhere, framing by another site.

Configured by ``CONTENT_SECURITY_POLICIES`` (config/settings/base.py): URL path prefix ->
``{directive: [sources]}``; the first prefix that matches the request's path wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy_header(directives: Mapping[str, Sequence[str]]) -> str:
    """``{"script-src": ["'self'"], "upgrade-insecure-requests": []}`` as the header's value:
    ``script-src 'self'; upgrade-insecure-requests``.

    A source with ``;`` or ``,`` would end the directive or start a second policy: refused.
    """
    parts = []
    for directive, sources in directives.items():
        for source in sources:
            if any(character in source for character in ";,\r\n"):
                raise ImproperlyConfigured(
                    f"CONTENT_SECURITY_POLICIES: {directive} source {source!r} is not one token."
                )
        parts.append(" ".join([directive, *sources]))
    return "; ".join(parts)


def policy_for(path: str) -> str | None:
    """The header value for a request to ``path``, or None when no policy applies."""
    for prefix, directives in getattr(settings, "CONTENT_SECURITY_POLICIES", {}).items():
        if path.startswith(prefix):
            return policy_header(directives)
    return None


class ContentSecurityPolicyMiddleware:
    """Add the path's ``Content-Security-Policy`` unless the view set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            policy = policy_for(request.path_info)
            if policy is not None:
                response[HEADER] = policy
        return response
