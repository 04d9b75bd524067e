"""Fast and deterministic settings for the test suite.

The database comes from DATABASE_URL like everywhere else; the test harness points it at a
throwaway PostgreSQL cluster (see tests/conftest.py), and unset it falls back to SQLite.
"""

from config.env import env_bool, env_list, env_str

from .base import *  # noqa: F403

SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghijklmnop"
DEBUG = False
# Hashing is deliberately slow in production; the tests log in thousands of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Worker processes started by the tests get the file-based backend (EMAIL_BACKEND, EMAIL_FILE_PATH).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Serve static files from the finders; the suite never runs collectstatic.
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PAYMENT_PROVIDER = "manual"
# Counters would carry over between tests sharing 127.0.0.1; throttling tests switch it on.
THROTTLE_ENABLED = env_bool("THROTTLE_ENABLED", False)
STRIPE_SECRET_KEY = None
STRIPE_WEBHOOK_SECRET = "whsec_test_secret"

# Tasks run eagerly unless a test gives a process a broker of its own (CELERY_BROKER_URL; never
# REDIS_URL's, which is the cache's): unit tests need no worker, and the tests that start real
# workers point them and themselves at a throwaway Redis (tests/e2e/test_workers.py).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)
STAFF_NOTIFICATION_EMAILS = env_list("STAFF_NOTIFICATION_EMAILS", ["kitchen@myhibachi.example"])
