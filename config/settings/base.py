"""Settings shared by every environment; the others only tighten or replace a few of them.

Every integration is switched on by one environment variable (DATABASE_URL, REDIS_URL,
STRIPE_SECRET_KEY, ...). With none set, the embedded default runs: SQLite and the
local-memory cache.
"""

from pathlib import Path
from typing import Any

from config.env import env_bool, env_float, env_int, env_list, env_str, site_url
from config.redis import (
    celery_sentinel_broker_url,
    parse_sentinels,
    sentinel_cache_options,
    sentinel_url,
    through_sentinel,
)
from core.db.urls import database_config, split_urls

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# ------------------------------------------------------------------------------ general
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-local-development-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

# Event dates and times are the business's local wall-clock time.
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "America/Los_Angeles")
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True

# ------------------------------------------------------------------------------ apps
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI's files served by us, not a CDN (README, "Dependencies"; CSP below).
    "drf_spectacular_sidecar",
    "django_prometheus",
    "core",
    "core.observability",
    "accounts",
    "blog",
    "bookings",
    "payments",
    "reviews",
    "notifications",
    # `manage.py seed_demo`: demo data for every app (it imports them all, so not in core).
    "demo",
]

MIDDLEWARE = [
    # Request id + one JSON log line, then metrics: outermost, so they see every answer,
    # including the ones middleware below gives (core/observability/middleware.py).
    "core.observability.middleware.RequestLoggingMiddleware",
    # Under /api/, errors Django answers itself (unknown URL, bad Host, crash) get the API.md
    # JSON body in every settings module, DEBUG included: near the top, so it sees what the
    # middleware below raise (core/http/middleware.py).
    "core.http.middleware.ApiErrorBodyMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.observability.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on the admin and the API docs (core/http/security.py).
    "core.http.security.ContentSecurityPolicyMiddleware",
    "core.throttling.shedding.LoadSheddingMiddleware",
    # Anonymous GETs of public answers built from cached data, replayed while that data holds:
    # the rest of the chain is skipped (core/cache/replay.py).
    "core.cache.replay.PublicAnswerReplayMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's, but an API path without its trailing slash is a JSON 404, never a redirect
    # that drops a POST's body (core/http/middleware.py).
    "core.http.middleware.CommonMiddleware",
    # Responses that set no Cache-Control (personal data, errors) get "private, no-store".
    "core.cache.http.PrivateByDefaultMiddleware",
    "core.throttling.headers.RateLimitHeadersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Read-your-writes: a client that just wrote reads the primary (core/db/pins.py).
    "core.db.middleware.ReplicaPinningMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------------------ databases
# https://github.com/jazzband/dj-database-url, plus libpq's multi-host form (core/db/urls.py):
# DATABASE_URL=postgres://app@db-a:5432,db-b:5432/myhibachi?target_session_attrs=read-write
# follows a promoted standby without a restart; replicas take ?target_session_attrs=prefer-standby.
# docs/failover.md
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
# Persistent connections; behind PgBouncer they are cheap client slots on the pooler, which keeps
# the server connections few (docs/pooling.md).
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60)
# The URLs point at PgBouncer in transaction mode: no server-side cursors, no prepared statements.
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
# Parameters bound on the server and frequent statements prepared per connection, so PostgreSQL
# does not parse and plan them at every request (off behind a transaction pooler).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
DATABASES = {
    "default": database_config(
        DATABASE_URL,
        conn_max_age=DATABASE_CONN_MAX_AGE,
        transaction_pooling=DATABASE_TRANSACTION_POOLING,
        prepared_statements=DATABASE_PREPARED_STATEMENTS,
    ),
}
# Read replicas, one alias each ("replica_1", ...); routing is the replica router's job.
for _index, _url in enumerate(split_urls(env_str("DATABASE_REPLICA_URLS")), start=1):
    DATABASES[f"replica_{_index}"] = database_config(
        _url,
        conn_max_age=DATABASE_CONN_MAX_AGE,
        transaction_pooling=DATABASE_TRANSACTION_POOLING,
        prepared_statements=DATABASE_PREPARED_STATEMENTS,
    )
# PostgreSQL through our backend: a read failing because its server is unreachable is retried
# on the other side, a replica's on the primary and the primary's on a replica
# (core/db/failover.py).
for _database in DATABASES.values():
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database["ENGINE"] = "core.db.backends.postgresql"
# SQLite (the embedded default) must answer concurrent writes like PostgreSQL: wait for the lock
# instead of failing with "database is locked" (503). WAL lets reads run beside the one writer;
# BEGIN IMMEDIATE takes the write lock when a transaction starts, so writers queue on the busy
# timeout instead of failing at once when a read lock cannot be upgraded (SQLite's answer to a
# deadlock ignores the timeout). With one writer at a time, check-then-insert under
# transaction.atomic() is serialised as select_for_update() serialises it on PostgreSQL.
# https://docs.djangoproject.com/en/5.2/ref/databases/#database-is-locked-errors
# https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-transaction-behavior
SQLITE_BUSY_TIMEOUT_SECONDS = env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 20)
for _database in DATABASES.values():
    if _database["ENGINE"] == "django.db.backends.sqlite3":
        _database["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
            # synchronous=NORMAL is durable across application crashes in WAL mode (SQLite's
            # recommended pairing); an in-memory test database ignores journal_mode.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            **_database.get("OPTIONS", {}),
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------ read replicas
# Reads go to a healthy replica within the lag budget; writes, transactions and clients that
# just wrote use the primary. The budget math is in core/db/health.py.
DATABASE_ROUTERS = ["core.db.routers.ReplicaRouter"]
REPLICA_READS_ENABLED = env_bool("REPLICA_READS_ENABLED", True)
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 2)
REPLICA_HEALTH_CHECK_SECONDS = env_int("REPLICA_HEALTH_CHECK_SECONDS", 2)
# Longer than the worst staleness of an accepted replica (max lag + one check interval).
REPLICA_PIN_SECONDS = env_int(
    "REPLICA_PIN_SECONDS", REPLICA_MAX_LAG_SECONDS + REPLICA_HEALTH_CHECK_SECONDS + 1
)
# Relative share of reads per replica, in DATABASE_REPLICA_URLS order ("3,1"); equal if unset.
REPLICA_WEIGHTS = {
    f"replica_{_index}": int(_weight)
    for _index, _weight in enumerate(env_list("DATABASE_REPLICA_WEIGHTS"), start=1)
}
# Sessions are written after the pinning middleware has finished, so they always read the primary.
REPLICA_PRIMARY_MODELS = ["sessions.Session"]
# The cache alias that holds read-your-writes pins (core/db/pins.py).
REPLICA_PIN_CACHE = "default"
# Connect and statement timeout of the replica health probes.
REPLICA_PROBE_TIMEOUT_SECONDS = env_float("REPLICA_PROBE_TIMEOUT_SECONDS", 2)
# A persistent connection idle this long (or after an error) is checked with a SELECT 1 before
# its next use; one in steady use is not (core/db/backends/postgresql/base.py). 0: every
# request's first use is checked, as Django does (docs/booking-path.md, the health check).
DATABASE_HEALTH_CHECK_IDLE_SECONDS = env_float("DATABASE_HEALTH_CHECK_IDLE_SECONDS", 5)

# ------------------------------------------------------------------------------ cache
# One Redis for cached results (core/cache), read-your-writes pins (core/db/pins.py) and, by
# default, the throttle counters. Unset: the local-memory cache of the embedded default.
# Either one server (REDIS_URL) or, for failover, the master Redis Sentinel names:
# REDIS_SENTINELS=host:port,... and REDIS_SENTINEL_MASTER (docs/redis-failover.md). Then
# REDIS_URL defaults to redis://<master>/0, a URL every Redis client here resolves through the
# sentinels (core/redis_connections.py).
REDIS_SENTINELS = parse_sentinels(env_str("REDIS_SENTINELS"))
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER", "myhibachi")
# Each question to a sentinel; a dead one costs at most this before the next is asked.
REDIS_SENTINEL_SOCKET_TIMEOUT = env_float("REDIS_SENTINEL_SOCKET_TIMEOUT", 0.25)
REDIS_URL = env_str("REDIS_URL", sentinel_url(REDIS_SENTINEL_MASTER) if REDIS_SENTINELS else None)
# A read-your-writes pin (core/db/pins.py) must survive a Redis failover: the request that
# wrote waits (WAIT) until this many Redis replicas hold its pin, at most this long. 0: no wait.
# A pin that reached no replica in time is only on the master: lost if it dies in the next
# moment (docs/redis-failover.md, "The pin window").
REPLICA_PIN_REDIS_REPLICAS = env_int("REPLICA_PIN_REDIS_REPLICAS", 1 if REDIS_SENTINELS else 0)
REPLICA_PIN_REDIS_WAIT_MS = env_int("REPLICA_PIN_REDIS_WAIT_MS", 50)
# Environments sharing one Redis are kept apart by the key prefix. Cached results also carry
# RELEASE in their keys (core/cache/keys.py), so a deploy never unpickles values written by other
# code; RELEASE stays out of KEY_PREFIX because pins and throttle counters must survive a rolling
# deploy, while old and new releases serve side by side.
DEPLOY_ENVIRONMENT = env_str("DEPLOY_ENVIRONMENT", "local")
RELEASE = env_str("RELEASE", "dev")  # the deployed version: an image tag or a commit
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", f"myhibachi:{DEPLOY_ENVIRONMENT}")
# https://github.com/jazzband/django-redis#configure-as-cache-backend
CACHE_REDIS_OPTIONS = {
    # Replies parsed in C (the hiredis package in requirements.txt).
    "PARSER_CLASS": "redis._parsers._HiredisParser",
    # Short: a call that waits longer counts as a failure, and after a few the circuit breaker
    # (core/cache/backend.py) stops calling a hanging Redis at all.
    "SOCKET_CONNECT_TIMEOUT": env_float("CACHE_SOCKET_CONNECT_TIMEOUT", 0.25),
    "SOCKET_TIMEOUT": env_float("CACHE_SOCKET_TIMEOUT", 0.25),
    # One pool per process, bounded: each gunicorn thread holds at most one connection at a time.
    "CONNECTION_POOL_KWARGS": {"max_connections": env_int("CACHE_MAX_CONNECTIONS", 50)},
    # zlib for values over 1 KiB (lists of posts); small ones (versions, locks, pins) as they are.
    "COMPRESSOR": "core.cache.backend.LargeValueZlibCompressor",
}
if through_sentinel(REDIS_URL, REDIS_SENTINEL_MASTER, REDIS_SENTINELS):
    CACHE_REDIS_OPTIONS = sentinel_cache_options(
        CACHE_REDIS_OPTIONS, REDIS_SENTINELS, REDIS_SENTINEL_SOCKET_TIMEOUT
    )
if REDIS_URL:
    # django-prometheus's subclass of django-redis's backend counts gets, hits and misses.
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": CACHE_REDIS_OPTIONS,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache",
            "LOCATION": "myhibachi",
        }
    }

# ------------------------------------------------------------------------------ cache tiers
# Selectors' results (core/cache): one switch for all of them, the staleness bound of the
# in-process tier (a write is seen by every worker within CACHE_LOCAL_SECONDS; see
# core/cache/versions.py) and its size, the stampede lock, and the circuit breaker.
CACHE_RESULTS_ENABLED = env_bool("CACHE_RESULTS_ENABLED", True)
CACHE_RESULTS_ALIAS = "default"
CACHE_LOCAL_SECONDS = env_float("CACHE_LOCAL_SECONDS", 2.0)
CACHE_LOCAL_MAX_BYTES = env_int("CACHE_LOCAL_MAX_BYTES", 16 * 1024 * 1024)
# A miss is computed by the caller holding this lock; the others wait for its result this long.
CACHE_LOCK_SECONDS = env_float("CACHE_LOCK_SECONDS", 10.0)
CACHE_LOCK_WAIT_SECONDS = env_float("CACHE_LOCK_WAIT_SECONDS", 1.0)
# After this many failures in a row, skip Redis for the cool-down (then probe once).
CACHE_BREAKER_FAILURES = env_int("CACHE_BREAKER_FAILURES", 3)
CACHE_BREAKER_COOLDOWN_SECONDS = env_float("CACHE_BREAKER_COOLDOWN_SECONDS", 5.0)

# ------------------------------------------------------------------------------ auth
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ------------------------------------------------------------------------------ static files
# https://whitenoise.readthedocs.io/en/stable/django.html
# collectstatic writes hashed names (base.96c479cedf7a.css) and a .gz of each into STATIC_ROOT;
# nginx serves them from disk (deploy/nginx), whitenoise where no nginx is in front (k8s).
# Both say "immutable, one year" for hashed names. With STATIC_CDN_URL
# ("https://cdn.example.com/static/"), pages link the CDN, which pulls from us: /static/ is
# still served here as its origin.
STATIC_CDN_URL = env_str("STATIC_CDN_URL")
STATIC_URL = (STATIC_CDN_URL.rstrip("/") + "/") if STATIC_CDN_URL else "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
# The CDN's origin serves our own scripts, styles and fonts: the pages' CSP allows it.
_STATIC_ORIGINS = ["/".join(STATIC_URL.split("/")[:3])] if STATIC_CDN_URL else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# ------------------------------------------------------------------------------ HTTP
# Bodies larger than this are refused with 413 (JSON parser and Django's own form parsing).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024)
APPEND_SLASH = True

# ------------------------------------------------------------------------------ REST framework
# https://www.django-rest-framework.org/api-guide/settings/
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.http.authentication.CompiledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": ["core.http.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "core.http.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "core.http.exception_handler.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.http.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.throttles.RateLimitThrottle"],
}
API_MAX_PAGE_SIZE = 100

SPECTACULAR_SETTINGS = {
    "TITLE": "MyHibachi API",
    "DESCRIPTION": "Book a private hibachi chef for your event.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Stable enum component names: a choice set used by several components (Payment and
    # PaymentCreated) is otherwise named after a hash, which renames generated client classes.
    "ENUM_NAME_OVERRIDES": {
        "PaymentKindEnum": "payments.models.Payment.Kind",
        "PaymentStatusEnum": "payments.models.Payment.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.http.schema.add_error_component",
    ],
    # https://drf-spectacular.readthedocs.io/en/latest/settings.html (drf-spectacular-sidecar)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# ------------------------------------------------------------------------------ content security
# https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy
# The HTML pages we serve load only our own files, so everything else is refused; the JSON API
# renders no HTML and gets no policy. Path prefix -> directives (core/http/security.py).
_CSP_STRICT = {
    "default-src": ["'none'"],
    "script-src": ["'self'", *_STATIC_ORIGINS],
    "style-src": ["'self'", *_STATIC_ORIGINS],
    "img-src": ["'self'", "data:", *_STATIC_ORIGINS],
    "font-src": ["'self'", *_STATIC_ORIGINS],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
}
CONTENT_SECURITY_POLICIES = {
    "/admin/": _CSP_STRICT,
    # drf-spectacular's swagger_ui.html has one inline <style> block: allowed by its hash (a
    # drf-spectacular upgrade that changes it fails tests/core/http/test_security.py).
    "/api/docs/": {
        **_CSP_STRICT,
        "style-src": [
            *_CSP_STRICT["style-src"],
            "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='",
        ],
    },
}

# ------------------------------------------------------------------------------ bookings
BOOKING_CURRENCY = "USD"
# Percent of the total due as a deposit to hold the date.
BOOKING_DEPOSIT_PERCENT = env_int("BOOKING_DEPOSIT_PERCENT", 20)
# Bookings open this many hours after now at the earliest, and close this many days ahead.
BOOKING_MIN_NOTICE_HOURS = env_int("BOOKING_MIN_NOTICE_HOURS", 72)
BOOKING_MAX_ADVANCE_DAYS = env_int("BOOKING_MAX_ADVANCE_DAYS", 365)
# Customers may cancel up to this many hours before the event starts.
BOOKING_CANCELLATION_WINDOW_HOURS = env_int("BOOKING_CANCELLATION_WINDOW_HOURS", 48)
# Housekeeping marks a confirmed booking completed this many hours after its start time (staff
# may do it sooner in the admin); the review request goes out the day after the event.
BOOKING_AUTO_COMPLETE_AFTER_HOURS = env_int("BOOKING_AUTO_COMPLETE_AFTER_HOURS", 6)
# Review requests are sent for events at most this many days ago (never for old history).
REVIEW_REQUEST_MAX_AGE_DAYS = env_int("REVIEW_REQUEST_MAX_AGE_DAYS", 14)
# Guest limits for any booking; a package may narrow them further.
BOOKING_MIN_GUESTS = env_int("BOOKING_MIN_GUESTS", 1)
BOOKING_MAX_GUESTS = env_int("BOOKING_MAX_GUESTS", 60)
# The widest date range the availability endpoint answers for.
AVAILABILITY_MAX_RANGE_DAYS = 92

# The staff operations dashboard's "today's bookings per slot" (core names it, imports no app).
OPERATIONS_SLOTS_SELECTOR = "bookings.selectors.bookings_per_slot"
# A booking's amount paid, as the payments app computes it (bookings names it, imports no
# payments code: payments builds on bookings).
BOOKING_AMOUNT_PAID_EXPRESSION = "payments.selectors.amount_paid_expression"

# ------------------------------------------------------------------------------ payments
# Stripe is enabled when STRIPE_SECRET_KEY is set; "manual" (staff record cash/transfer) otherwise.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# Signatures older than this are refused, against replayed webhook deliveries.
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
PAYMENT_PROVIDER = env_str("PAYMENT_PROVIDER", "stripe" if STRIPE_SECRET_KEY else "manual")
# Stripe is called outside any transaction (payments/services.py), but a request still waits
# for it: each attempt gives up after STRIPE_TIMEOUT_SECONDS (connect, and each read), and the
# SDK retries a failed attempt STRIPE_MAX_NETWORK_RETRIES times (same Stripe idempotency key, so
# never twice charged) after a backoff of at most 5 s. Worst case with the defaults:
# 2 x 8 s + 5 s = 21 s, inside gunicorn's 30 s worker timeout. The SDK's own default is 80 s.
# https://docs.stripe.com/api/idempotent_requests
STRIPE_TIMEOUT_SECONDS = env_float("STRIPE_TIMEOUT_SECONDS", 8)
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 1)
STRIPE_API_BASE = env_str("STRIPE_API_BASE")  # unset: Stripe's own https://api.stripe.com
PAYMENT_PROVIDER_WORST_CASE_SECONDS = (STRIPE_MAX_NETWORK_RETRIES + 1) * STRIPE_TIMEOUT_SECONDS + 5
# A payment reserved while its provider call runs ("creating") that is older than this belongs
# to a request that died mid-call; it is deleted so its amount is owed again.
PAYMENT_RESERVATION_STALE_SECONDS = env_int("PAYMENT_RESERVATION_STALE_SECONDS", 120)

# How long a stored Idempotency-Key answers replays before it may be reused.
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)
# A request repeating a key whose first request is still running (core/http/idempotency.py)
# polls every IDEMPOTENCY_POLL_SECONDS for its answer, for up to IDEMPOTENCY_WAIT_SECONDS
# (longer than the provider's worst case), then answers 409 idempotency_in_progress. A claim
# older than IDEMPOTENCY_CLAIM_SECONDS outlived any request and is taken over.
IDEMPOTENCY_POLL_SECONDS = env_float("IDEMPOTENCY_POLL_SECONDS", 0.05)
IDEMPOTENCY_WAIT_SECONDS = env_float(
    "IDEMPOTENCY_WAIT_SECONDS", PAYMENT_PROVIDER_WORST_CASE_SECONDS + 2
)
IDEMPOTENCY_CLAIM_SECONDS = env_int("IDEMPOTENCY_CLAIM_SECONDS", 120)

# ------------------------------------------------------------------------------ email
# https://docs.djangoproject.com/en/5.2/topics/email/
# The console backend prints each message (the embedded default); EMAIL_HOST switches to SMTP.
# EMAIL_BACKEND names any backend outright (tests give their workers the file-based one).
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
# A hanging mail server fails the send (the task retries) instead of holding a worker forever.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH")  # the file-based backend's directory
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "MyHibachi <bookings@myhibachi.example>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# Where the new-booking notice goes; unset: every active staff member with an email address.
STAFF_NOTIFICATION_EMAILS = env_list("STAFF_NOTIFICATION_EMAILS")
# Every link in emails starts with SITE_URL: the address customers and staff reach the site at,
# not the one this process listens on. Unset, `make run`'s (the Makefile passes its HOST:PORT);
# production derives it from the first allowed host.
SITE_URL = site_url(env_str("SITE_URL", "http://127.0.0.1:8000"))

# ------------------------------------------------------------------------------ background work
# https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
# Celery reads every CELERY_* setting here (config/celery.py). The broker defaults to the same
# Redis; amqp://... (RabbitMQ) works by URL. Without a broker (the embedded default) tasks run
# eagerly, in the process that enqueued them, right after the transaction commits.
# With REDIS_SENTINELS, the broker is the master CELERY_BROKER_SENTINEL_MASTER (default: the
# cache's) found through the same sentinels: kombu's sentinel:// transport.
CELERY_BROKER_SENTINEL_MASTER = env_str("CELERY_BROKER_SENTINEL_MASTER", REDIS_SENTINEL_MASTER)
CELERY_BROKER_URL = env_str(
    "CELERY_BROKER_URL",
    celery_sentinel_broker_url(REDIS_SENTINELS) if REDIS_SENTINELS else REDIS_URL,
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
# Results are not used: tasks record their outcome in the database (sent notifications,
# processed provider events, dead letters). Set one to inspect results by task id.
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND")
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Reliability (core/background/reliability.py sets acks_late per task): a worker takes one
# message at a time per process, so a crash loses at most what it was running, and that comes
# back (reject_on_worker_lost; for Redis, after the visibility timeout).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = False
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)
# Recycle worker processes now and then (slow leaks in long-lived processes).
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 1000)
CELERY_WORKER_SEND_TASK_EVENTS = False
# Workers log through Django's LOGGING (JSON lines with the rest), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request publishes once, without kombu's retries: an enqueue that fails leaves its outbox row
# for the relay, so a request never waits on a broker that is down (core/background/outbox.py).
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
# A message a worker took and never acknowledged (the worker died) is given to another worker
# after this many seconds (Redis only: RabbitMQ redelivers when the connection drops). Longer
# than the longest task (CELERY_TASK_TIME_LIMIT), or a slow task would run twice.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_UNACKED_RESTORE_INTERVAL = env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10)


def broker_transport_options(url: str | None) -> dict[str, Any]:
    """kombu's transport options for the broker at ``url`` (Redis gets its own)."""
    options: dict[str, Any] = {
        # Connection retries of every transport: bounded, so publishing cannot hang.
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
    if (url or "").split(":", 1)[0] in {"redis", "rediss", "sentinel"}:
        options.update(
            {
                "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
                # How often a worker looks for messages past the visibility timeout (seconds).
                "unacked_restore_interval": CELERY_UNACKED_RESTORE_INTERVAL,
                "unacked_restore_throttle": 1,
                "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
                "socket_timeout": env_float("CELERY_BROKER_SOCKET_TIMEOUT", 10.0),
                "health_check_interval": 25,
            }
        )
    if (url or "").startswith("sentinel://"):
        # https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html
        options["master_name"] = CELERY_BROKER_SENTINEL_MASTER
        options["sentinel_kwargs"] = {
            "socket_timeout": REDIS_SENTINEL_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_SENTINEL_SOCKET_TIMEOUT,
        }
    return options


CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)
# Retries of failing tasks: exponential back-off (base * 2**n, capped) with full jitter, at
# most this many times; then the task is kept as a dead letter (staff retry it in the admin).
TASK_RETRY_MAX = env_int("TASK_RETRY_MAX", 5)
TASK_RETRY_BACKOFF_SECONDS = env_int("TASK_RETRY_BACKOFF_SECONDS", 2)
TASK_RETRY_BACKOFF_MAX_SECONDS = env_int("TASK_RETRY_BACKOFF_MAX_SECONDS", 600)
# The outbox (core/background/outbox.py): rows the relay publishes per run, and how long
# published rows are kept for operators before housekeeping deletes them.
OUTBOX_RELAY_BATCH = env_int("OUTBOX_RELAY_BATCH", 200)
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 7)
# After this many publish failures in a row, enqueues skip the broker for the cool-down and
# leave their rows to the relay (no request pays a timeout per enqueue during an outage).
OUTBOX_BREAKER_FAILURES = env_int("OUTBOX_BREAKER_FAILURES", 3)
OUTBOX_BREAKER_COOLDOWN_SECONDS = env_float("OUTBOX_BREAKER_COOLDOWN_SECONDS", 5.0)
# The worker's own /metrics (its processes' task counters), for Prometheus; unset: none.
CELERY_WORKER_METRICS_PORT = env_int("CELERY_WORKER_METRICS_PORT", 0)
CELERY_WORKER_METRICS_ADDRESS = env_str("CELERY_WORKER_METRICS_ADDRESS", "0.0.0.0")  # noqa: S104
# Touched when the worker is ready, removed when it stops: the Kubernetes readiness probe.
CELERY_WORKER_READY_FILE = env_str("CELERY_WORKER_READY_FILE")
# CELERY_WORKER_LIVENESS_FILE (read by core/background/liveness.py, a worker bootstep): touched
# every 10 s by the worker's event loop, for the liveness probe.
# Periodic housekeeping: Celery beat (one process, deploy/) enqueues these every N seconds.
OUTBOX_RELAY_INTERVAL_SECONDS = env_float("OUTBOX_RELAY_INTERVAL_SECONDS", 10)
HOUSEKEEPING_INTERVAL_SECONDS = env_float("HOUSEKEEPING_INTERVAL_SECONDS", 3600)
CACHE_REWARM_INTERVAL_SECONDS = env_float("CACHE_REWARM_INTERVAL_SECONDS", 300)
METRICS_SAMPLE_INTERVAL_SECONDS = env_float("METRICS_SAMPLE_INTERVAL_SECONDS", 15)
BOOKING_HOUSEKEEPING_INTERVAL_SECONDS = env_float("BOOKING_HOUSEKEEPING_INTERVAL_SECONDS", 900)
CELERY_BEAT_SCHEDULE = {
    # Publishes what enqueues could not (the broker was down): core/background/outbox.py.
    "relay-outbox": {"task": "core.outbox_relay", "schedule": OUTBOX_RELAY_INTERVAL_SECONDS},
    "purge-expired-rows": {"task": "core.purge_expired", "schedule": HOUSEKEEPING_INTERVAL_SECONDS},
    "rewarm-caches": {"task": "core.rewarm_caches", "schedule": CACHE_REWARM_INTERVAL_SECONDS},
    "sample-metrics": {"task": "core.sample_metrics", "schedule": METRICS_SAMPLE_INTERVAL_SECONDS},
    "complete-past-bookings": {
        "task": "bookings.complete_past_bookings",
        "schedule": BOOKING_HOUSEKEEPING_INTERVAL_SECONDS,
    },
    "send-review-requests": {
        "task": "notifications.send_review_requests",
        "schedule": BOOKING_HOUSEKEEPING_INTERVAL_SECONDS,
    },
}

# ------------------------------------------------------------------------------ logging
LOG_LEVEL = env_str("DJANGO_LOG_LEVEL", "INFO")
# "json": one JSON object per line (collectors parse it); "plain": for a human at a terminal.
# Either way every record carries the request id (core/observability/logging.py), and the
# access logger writes one line per request.
LOG_FORMAT = env_str("DJANGO_LOG_FORMAT", "json")
# Lines are written in batches at most this many seconds apart, off the requests' threads;
# WARNING and above at once (core/observability/logging.py). 0: every line at once.
LOG_FLUSH_SECONDS = env_float("DJANGO_LOG_FLUSH_SECONDS", 1.0)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.observability.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "core.observability.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "core.observability.logging.BufferedStreamHandler",
            "flush_interval": LOG_FLUSH_SECONDS,
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "core.observability.access": {"level": env_str("ACCESS_LOG_LEVEL", "INFO")},
    },
}

# ------------------------------------------------------------------------------ metrics
# /metrics answers clients in these networks (CIDRs) or presenting
# "Authorization: Bearer $METRICS_TOKEN"; everyone else gets 403. The address is the shared
# client-IP resolver's (TRUSTED_PROXIES), and nginx does not proxy /metrics: Prometheus
# scrapes each backend directly. Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by
# deploy/gunicorn.conf.py) makes /metrics add up every worker.
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
METRICS_TOKEN = env_str("METRICS_TOKEN")

# ------------------------------------------------------------------------------ client IP
# Proxies whose X-Forwarded-For we believe (CIDRs): the nginx in deploy/. Empty: the socket peer
# is the client. See core/http/client_ip.py.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

# ------------------------------------------------------------------------------ throttling
# Every scope: its rates (any period: "100/minute", "100/5m"), what it counts by ("ip",
# "user", "client" = user if logged in else IP, "email" = the login form's email) and what
# happens while Redis is unavailable ("open": a per-process limiter; "closed": 503).
# Rates are overridable per scope: THROTTLE_RATES_<SCOPE>="100/minute,1000/hour".
THROTTLE_ENABLED = env_bool("THROTTLE_ENABLED", True)
THROTTLE_SCOPES: dict[str, dict[str, Any]] = {
    "anon": {"rates": ["100/minute", "1000/hour", "10000/day"], "key": "ip"},
    "user": {"rates": ["300/minute", "5000/hour"], "key": "user"},
    # Per IP for logged-in users too, so a farm of accounts behind one address is bounded.
    "user_ip": {"rates": ["600/minute", "10000/hour"], "key": "ip"},
    "blog_list": {"rates": ["20/minute"], "key": "client"},
    "search": {"rates": ["10/minute"], "key": "client"},
    "review_submit": {"rates": ["5/hour"], "key": "user"},
    "booking_create": {"rates": ["10/hour"], "key": "user"},
    "payment_create": {"rates": ["20/hour"], "key": "user", "on_redis_failure": "closed"},
    # Login (docs/login-policy.md): every attempt per address; per account only FAILED attempts
    # (a success is given back), from addresses that never logged into it ("login_email", a
    # ladder of windows: the wait grows ~10x per 5 failures, 20 a day at most) or from one
    # that did ("login_email_known", its own budget per address, so a stranger cannot spend it).
    "login_ip": {"rates": ["20/minute", "200/day"], "key": "ip", "on_redis_failure": "closed"},
    # "refunded": counts can be given back, so their refusals are never cached per process.
    "login_email": {
        "rates": ["5/minute", "10/10m", "15/2h", "20/day"],
        "key": "email",
        "on_redis_failure": "closed",
        "refunded": True,
    },
    "login_email_known": {
        "rates": ["10/minute", "50/day"],
        "key": "email_ip",
        "on_redis_failure": "closed",
        "refunded": True,
    },
    # Failed authentications (bad or revoked tokens) per address; while spent, every request of
    # that address presenting a token is refused (core/throttling/throttles.py).
    "auth_failures_ip": {"rates": ["20/minute", "100/day"], "key": "ip"},
}
for _scope, _policy in THROTTLE_SCOPES.items():
    _policy["rates"] = env_list(f"THROTTLE_RATES_{_scope.upper()}", _policy["rates"])
    _policy.setdefault("on_redis_failure", "open")
# Scopes that only count what they would reject (rolling out a new limit).
THROTTLE_SHADOW_SCOPES = env_list("THROTTLE_SHADOW_SCOPES")
# Extra seconds (0..N, random) added to Retry-After so rejected clients do not retry in step.
THROTTLE_RETRY_JITTER_SECONDS = env_int("THROTTLE_RETRY_JITTER_SECONDS", 1)
# An address that logged into an account is "known" to it for this long (its own failure budget).
LOGIN_KNOWN_ADDRESS_DAYS = env_int("LOGIN_KNOWN_ADDRESS_DAYS", 90)
# The owner is emailed once per incident when this many failures from unknown addresses are in
# the day's window; an incident lasts LOGIN_ALERT_INCIDENT_HOURS from its first alert.
LOGIN_ALERT_AFTER_FAILURES = env_int("LOGIN_ALERT_AFTER_FAILURES", 10)
LOGIN_ALERT_INCIDENT_HOURS = env_int("LOGIN_ALERT_INCIDENT_HOURS", 24)
# Refusals remembered per process until they expire, so a refused client's flood costs no Redis
# round trip (core/throttling/denials.py). Off: Redis decides every request (for comparison).
THROTTLE_DENY_CACHE = env_bool("THROTTLE_DENY_CACHE", True)
# Redis for the counters; defaults to the cache's Redis. Unset: per-process counting only.
THROTTLE_REDIS_URL = env_str("THROTTLE_REDIS_URL", REDIS_URL)
# Load shedding (core/throttling/shedding.py): low-priority requests are refused with 503 past
# these, normal ones past twice these, critical ones never.
SHED_MAX_IN_FLIGHT = env_int("SHED_MAX_IN_FLIGHT", 32)  # requests in flight per process
SHED_MAX_QUEUE_SECONDS = float(env_str("SHED_MAX_QUEUE_SECONDS", "2.0") or 2.0)
