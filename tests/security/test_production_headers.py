"""What the production settings send browsers: HTTPS only (HSTS), no MIME sniffing, a strict
Referrer-Policy, a Content-Security-Policy on the admin and the docs, cookies that never
travel over plain HTTP or to scripts.

The app runs under ``config.settings.production`` in a subprocess (tests/security/
production_probe.py) with the environment tests/config/test_settings.py uses, a throwaway
SQLite database and no Redis: the answers are those of the real settings module, not of an
imitation of it.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.config.test_settings import PRODUCTION_ENV, ROOT

# Referrer policies that never send a path to another site, nor anything over plain HTTP.
STRICT_REFERRER_POLICIES = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}
ONE_YEAR = 365 * 24 * 3600


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("production")
    env = {
        **{k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV},
        **PRODUCTION_ENV,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        # No Redis here: the cache falls back to the database behind its breaker. The login
        # limits fail closed without Redis (tested in tests/security/test_admin_login.py), so
        # they are off for the probe's one login.
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "THROTTLE_ENABLED": "false",
        "DJANGO_LOG_LEVEL": "ERROR",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.security.production_probe", str(work / "static")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_plain_http_is_redirected_to_https(production):
    answer = production["plain_http"]
    assert answer["status"] == 301
    assert answer["headers"]["Location"] == "https://api.myhibachi.example/admin/login/"


@pytest.mark.parametrize("page", ["admin_login_page", "docs", "api", "admin_login"])
def test_every_https_answer_carries_the_browser_protections(production, page):
    headers = production[page]["headers"]
    # HSTS: a year, subdomains, preload-ready
    hsts = dict(
        part.strip().partition("=")[::2] for part in headers["Strict-Transport-Security"].split(";")
    )
    assert int(hsts["max-age"]) >= ONE_YEAR
    assert "includeSubDomains" in hsts and "preload" in hsts
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in STRICT_REFERRER_POLICIES
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize("page", ["admin_login_page", "docs"])
def test_the_html_pages_have_a_strict_content_security_policy(production, page):
    answer = production[page]
    assert answer["status"] == 200
    policy = {
        name: sources
        for name, *sources in (
            part.split() for part in answer["headers"]["Content-Security-Policy"].split(";")
        )
    }
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no CDN, no inline script, no eval
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


def test_the_json_api_has_no_html_policy_to_send(production):
    assert production["api"]["status"] == 200
    assert "Content-Security-Policy" not in production["api"]["headers"]


def test_cookies_are_secure(production):
    # given every cookie the app set: the CSRF cookie, and the session and read-your-writes pin
    # a staff login starts
    login = production["admin_login"]
    assert login["status"] == 302
    assert {"sessionid", "csrftoken"} <= set(login["cookies"])
    cookies = [cookie for answer in production.values() for cookie in answer["cookies"].items()]
    # then none travels over plain HTTP or to another site's requests
    for name, cookie in cookies:
        assert cookie["secure"], name
        assert cookie["samesite"] in {"Lax", "Strict"}, name
    # and the session is out of scripts' reach
    assert login["cookies"]["sessionid"]["httponly"]
