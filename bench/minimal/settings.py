"""Minimal settings for the framework floor: no middleware, no installed apps but this one."""

import dj_database_url

from config.env import env_str

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "bench-minimal-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]  # loopback only: the benchmark's own server
ROOT_URLCONF = "bench.minimal.urls"
WSGI_APPLICATION = "bench.minimal.wsgi.application"
INSTALLED_APPS = ["bench.minimal"]
MIDDLEWARE: list[str] = []
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The same primary as the app, persistent connections like the app's.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "sqlite:///:memory:"), conn_max_age=60, conn_health_checks=True
    )
}
LOGGING_CONFIG = None
