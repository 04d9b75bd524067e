"""Minimal settings for the framework floor: no middleware, no installed apps but this one."""

from config.env import env_bool, env_str
from config.settings import base
from core.db.urls import database_config

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "bench-minimal-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]  # loopback only: the benchmark's own server
ROOT_URLCONF = "bench.minimal.urls"
WSGI_APPLICATION = "bench.minimal.wsgi.application"
INSTALLED_APPS = ["bench.minimal"]
MIDDLEWARE: list[str] = []
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The same primary as the app (libpq's multi-host form too, core/db/urls.py), persistent
# connections and prepared statements like the app's.
DATABASES = {
    "default": database_config(
        env_str("DATABASE_URL", "sqlite:///:memory:") or "sqlite:///:memory:",
        conn_max_age=60,
        transaction_pooling=env_bool("DATABASE_TRANSACTION_POOLING", False),
        prepared_statements=env_bool("DATABASE_PREPARED_STATEMENTS", True),
    )
}
LOGGING_CONFIG = None
# deploy/gunicorn.conf.py's post_fork publishes the replica lag budget (core/observability):
# the app's one default, read from its settings module.
REPLICA_MAX_LAG_SECONDS = base.REPLICA_MAX_LAG_SECONDS
