"""Fast and deterministic settings for the test suite.

The database comes from DATABASE_URL like everywhere else; the test harness points it at a
throwaway PostgreSQL cluster (see tests/conftest.py), and unset it falls back to SQLite.
"""

from config.env import env_bool

from .base import *  # noqa: F403

SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghijklmnop"
DEBUG = False
# Hashing is deliberately slow in production; the tests log in thousands of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
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
