"""Content-Security-Policy on the admin and the API docs (core/http/security.py)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from core.http.security import HEADER, ContentSecurityPolicyMiddleware, policy_header

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response[HEADER]
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/", "/admin/operations/"])
def test_admin_pages_get_the_strict_policy(client, path):
    # when anyone (logged in or not) loads an admin page
    response = client.get(path)
    # then only our own origin may supply scripts, styles and form targets
    policy = directives(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]


def test_docs_load_nothing_from_elsewhere(client):
    # when the API docs are loaded
    response = client.get("/api/docs/")
    html = response.content.decode()
    # then every script and stylesheet is ours (drf-spectacular-sidecar), none from a CDN
    assert response.status_code == 200
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert assets and all(url.startswith("/") for url in assets), assets
    # and there is no inline script for the policy to allow
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert directives(response)["script-src"] == ["'self'"]


def test_the_docs_inline_style_is_allowed_by_its_hash(client):
    # given the docs page's inline <style> blocks (drf-spectacular's template)
    response = client.get("/api/docs/")
    blocks = re.findall(r"<style>(.*?)</style>", response.content.decode(), re.S)
    assert blocks
    # then the policy allows exactly those, by hash: never 'unsafe-inline'
    allowed = directives(response)["style-src"]
    for block in blocks:
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, "drf-spectacular's <style> changed: new hash"
    assert "'unsafe-inline'" not in allowed


def test_the_docs_start_up_script_is_a_same_origin_file(client):
    response = client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")


@pytest.mark.parametrize("path", ["/api/v1/packages/", "/healthz", "/api/schema/"])
def test_the_json_api_gets_no_policy(client, path):
    assert HEADER not in client.get(path)


def test_a_views_own_policy_is_kept(settings):
    # given a view that sets its own policy
    settings.CONTENT_SECURITY_POLICIES = {"/admin/": {"default-src": ["'none'"]}}
    middleware = ContentSecurityPolicyMiddleware(
        lambda request: HttpResponse(headers={HEADER: "default-src 'self'"})
    )
    # then the middleware leaves it alone
    response = middleware(RequestFactory().get("/admin/x/"))
    assert response[HEADER] == "default-src 'self'"


@pytest.mark.parametrize("source", ["'self'; script-src *", "'self', default-src *"])
def test_a_source_cannot_smuggle_a_directive(source):
    with pytest.raises(ImproperlyConfigured):
        policy_header({"script-src": [source]})


def test_directives_without_sources():
    assert policy_header({"upgrade-insecure-requests": [], "img-src": ["'self'", "data:"]}) == (
        "upgrade-insecure-requests; img-src 'self' data:"
    )
