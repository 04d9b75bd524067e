"""Production: everything from the environment, HTTPS only, fail fast on a missing secret."""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_required, env_str, site_url

from .base import *  # noqa: F403

# Required: start-up stops with ImproperlyConfigured naming the first one missing.
SECRET_KEY = env_required("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_required("DJANGO_ALLOWED_HOSTS").split(",")
env_required("DATABASE_URL")  # read by base.py; required here so SQLite is never used by mistake
# With REDIS_SENTINELS (base.py), REDIS_URL defaults to the URL naming the Sentinel master.
if not REDIS_SENTINELS:
    env_required("REDIS_URL")
DEBUG = False
# Links in emails: unset, https:// and the first allowed host (the public name clients use).
_public_host = ALLOWED_HOSTS[0].strip().lstrip(".")
if env_str("SITE_URL") is None and _public_host in {"", "*"}:
    raise ImproperlyConfigured("SITE_URL is required when DJANGO_ALLOWED_HOSTS starts with '*'.")
SITE_URL = site_url(env_str("SITE_URL", f"https://{_public_host}"))

# ------------------------------------------------------------------------------ security
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# TLS ends at the load balancer in front of nginx, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# /healthz and /readyz are probed over plain HTTP from inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
X_FRAME_OPTIONS = "DENY"
