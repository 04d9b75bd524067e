"""Requests made to the app under ``config.settings.production``, as a browser behind the TLS
load balancer would send them; prints what came back as JSON.

Run by tests/security/test_production_headers.py in a subprocess (the settings module is chosen
at start-up, so it cannot be switched inside the test process)::

    DJANGO_SETTINGS_MODULE=config.settings.production python -m tests.security.production_probe DIR

``DIR`` receives the collected static files (the production storage serves them from a
manifest, which ``collectstatic`` writes) and ``DATABASE_URL`` should name a throwaway SQLite
file: the probe migrates it and logs a staff member in.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import django

STAFF_EMAIL = "probe-staff@example.com"
STAFF_PASSWORD = "a-Long-probe-password-2026"


def answer(response) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "headers": dict(response.headers),
        "cookies": {
            name: {
                "secure": bool(morsel["secure"]),
                "httponly": bool(morsel["httponly"]),
                "samesite": morsel["samesite"],
            }
            for name, morsel in response.cookies.items()
        },
    }


def main(static_root: str) -> dict[str, Any]:
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User

    settings.STATIC_ROOT = static_root  # before anything reads it: collectstatic, whitenoise
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)
    User.objects.create_superuser(email=STAFF_EMAIL, password=STAFF_PASSWORD, name="Probe")

    host = settings.ALLOWED_HOSTS[0]
    https = {"HTTP_HOST": host, "HTTP_X_FORWARDED_PROTO": "https"}
    client = Client()
    return {
        "plain_http": answer(
            client.get("/admin/login/", HTTP_HOST=host, HTTP_X_FORWARDED_PROTO="http")
        ),
        "admin_login_page": answer(client.get("/admin/login/", **https)),
        "docs": answer(client.get("/api/docs/", **https)),
        "api": answer(client.get("/api/v1/packages/", **https)),
        "admin_login": answer(
            client.post(
                "/admin/login/",
                {"username": STAFF_EMAIL, "password": STAFF_PASSWORD},
                HTTP_REFERER=f"https://{host}/admin/login/",
                **https,
            )
        ),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
