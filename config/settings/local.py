"""The embedded default: SQLite and the local-memory cache, nothing to install (``make run``)."""

from config.env import env_bool

from .base import *  # noqa: F403

DEBUG = env_bool("DJANGO_DEBUG", True)
# The API renders JSON only, here too (base.py): the browsable API's HTML forms fail on views
# without a queryset, and a browser's Accept header must get the JSON a client gets (or 406).
# /api/docs/ is the browsable documentation.
# Let whitenoise serve from the app directories without collectstatic.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
