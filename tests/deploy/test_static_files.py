"""Static files: whitenoise's compressed manifest storage, STATIC_ROOT from the environment, and
STATIC_URL on a CDN origin (STATIC_CDN_URL) that pulls /static/ from us. Settings are read in a
subprocess, as production starts them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.deploy.conftest import PROJECT_ROOT

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "static-files-test-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DJANGO_ALLOWED_HOSTS": "api.myhibachi.example",
    "DATABASE_URL": "postgres://u@127.0.0.1:1/db",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.templatetags.static import static
from whitenoise.middleware import WhiteNoiseMiddleware
print(json.dumps({
    "STATIC_URL": settings.STATIC_URL,
    "STATIC_ROOT": str(settings.STATIC_ROOT),
    "storage": settings.STORAGES["staticfiles"]["BACKEND"],
    "admin_styles": settings.CONTENT_SECURITY_POLICIES["/admin/"]["style-src"],
    "docs_styles": settings.CONTENT_SECURITY_POLICIES["/api/docs/"]["style-src"],
    "whitenoise_prefix": WhiteNoiseMiddleware(lambda request: None).static_prefix,
}))
"""


def production_settings(**env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        env={**os.environ, **PRODUCTION_ENV, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_hashed_compressed_files_served_from_our_own_origin_by_default(tmp_path):
    found = production_settings(STATIC_ROOT=str(tmp_path / "static"))
    assert found["storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert found["STATIC_URL"] == "/static/"
    assert found["STATIC_ROOT"] == str(tmp_path / "static")
    assert found["admin_styles"] == ["'self'"]


def test_static_url_on_a_cdn_which_pulls_from_us_as_its_origin():
    found = production_settings(STATIC_CDN_URL="https://cdn.myhibachi.example/static")
    # pages link the CDN (a trailing slash added: Django requires one)...
    assert found["STATIC_URL"] == "https://cdn.myhibachi.example/static/"
    # ...which fetches /static/... from us: whitenoise still answers that path
    assert found["whitenoise_prefix"] == "/static/"
    # and the pages' Content-Security-Policy lets the browser load our files from there
    assert "https://cdn.myhibachi.example" in found["admin_styles"]
    assert "https://cdn.myhibachi.example" in found["docs_styles"]
    assert any(source.startswith("'sha256-") for source in found["docs_styles"])
