"""The embedded default (``make run``: config.settings.local, DEBUG on) answers API errors with
the API.md JSON body, like every other settings module: never Django's HTML debug pages."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh process with the local settings: requests that fail before any query, through
# the whole middleware chain, with DEBUG as `make run` has it.
PROBE = """
import json
import django
from django.conf import settings
django.setup()
from django.test import Client

client = Client(raise_request_exception=False, HTTP_HOST="localhost")
probes = {
    "reviews_as_html": client.get("/api/v1/reviews/", HTTP_ACCEPT="text/html"),
    "unknown_path": client.get("/api/v1/nope/"),
    "nul_slug": client.get("/api/v1/blog/posts/%00/"),
    "bad_utf8_slug": client.get("/api/v1/blog/posts/%ff%fe/"),
    "dot_dot_slug": client.get("/api/v1/blog/posts/..%2F..%2F/"),
    "bad_host": client.get("/api/v1/packages/", HTTP_HOST="evil.example"),
    "post_without_slash": client.post(
        "/api/v1/bookings/quote", "{}", content_type="application/json"
    ),
}
print(json.dumps({
    "debug": settings.DEBUG,
    "renderers": settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"],
    "answers": {
        name: [r.status_code, r.headers.get("Content-Type"), r.content.decode(errors="replace")]
        for name, r in probes.items()
    },
}))
"""


def run_probe(tmp_path: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE", "REDIS", "CELERY"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_make_run_answers_api_errors_as_json(tmp_path):
    # given the settings `make run` uses, DEBUG on
    probe = run_probe(tmp_path)
    assert probe["debug"] is True
    # then the API renders JSON only (the browsable API 500'd on views without a queryset)
    assert probe["renderers"] == ["rest_framework.renderers.JSONRenderer"]
    expected = {
        "reviews_as_html": (406, "not_acceptable"),
        "unknown_path": (404, "not_found"),
        "nul_slug": (404, "not_found"),
        "bad_utf8_slug": (404, "not_found"),
        "dot_dot_slug": (404, "not_found"),
        "bad_host": (400, "bad_request"),
        "post_without_slash": (404, "not_found"),
    }
    for name, (status, code) in expected.items():
        got_status, content_type, content = probe["answers"][name]
        assert (got_status, content_type) == (status, "application/json"), (name, content[:300])
        body = json.loads(content)
        assert body["code"] == code and body["message"], (name, body)
        assert "urlpatterns" not in content and "SECRET_KEY" not in content
