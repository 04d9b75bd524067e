"""Every metric the application exports, in one place: the small counters API other modules call.

Call sites stay one line::

    from core.observability import metrics

    metrics.inc_on_commit(metrics.bookings_created)              # a business event, after COMMIT
    metrics.record_cache_lookup("blog_post_list", hit=True)      # the cache tiers
    metrics.throttle_decisions.labels(scope="anon", decision="rejected").inc()
    metrics.set_cache_breaker_open(True)                         # the cache's circuit breaker

Business events count only what was committed: ``inc_on_commit`` defers the increment with
``transaction.on_commit``, so a rolled-back write counts nothing.

Names follow Prometheus conventions and the seed's list; prometheus_client appends ``_total``
to counters (``http_requests`` is exported as ``http_requests_total``). Under gunicorn every
worker writes its own values to ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up
(core/observability/multiprocess.py), so gauges declare how workers combine: ``live*`` modes,
because a recycled worker's last reading is stale, not a fact about the present.

The replica router's counters belong to the router (core/db/metrics.py) and are re-exported
here under the names this module uses, so that the catalogue below is complete.
"""

from __future__ import annotations

from functools import cache, partial

from django.db import transaction
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from core.db import metrics as _db_metrics

# Latency buckets: 2 s is the p95 alert threshold, so it is a bucket boundary.
REQUEST_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
QUERY_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

# ------------------------------------------------------------------------------ HTTP
http_requests = Counter(
    "http_requests",
    "HTTP requests answered, by method, URL route pattern (never the raw path) and status.",
    ["method", "endpoint", "status"],
)
http_request_duration = Histogram(
    "http_request_duration_seconds",
    "Time from the request entering the metrics middleware to its response, by route.",
    ["method", "endpoint"],
    buckets=REQUEST_DURATION_BUCKETS,
)
requests_shed = Counter(
    "http_requests_shed",
    "Requests refused with 503 by load shedding before reaching the view, by priority.",
    ["priority"],
)

# ------------------------------------------------------------------------------ database
db_query_duration = Histogram(
    "db_query_duration_seconds",
    "Duration of each SQL statement the ORM or a raw cursor ran, by database alias.",
    ["alias"],
    buckets=QUERY_DURATION_BUCKETS,
)
db_query_errors = Counter(
    "db_query_errors",
    "SQL statements that raised a database error, by database alias.",
    ["alias"],
)
db_connection_pool_size = Gauge(
    "db_connection_pool_size",
    "Database connections this backend holds open, by alias (persistent connections: one per "
    "worker thread that used the alias recently; with a psycopg pool: the pool's size).",
    ["alias"],
    multiprocess_mode="livesum",
)
db_connection_limit = Gauge(
    "db_connection_limit",
    "Connection slots the database server offers clients (max_connections minus the "
    "superuser reserve), shared by every backend; the pool-use alert divides by it.",
    ["alias"],
    multiprocess_mode="livemax",
)
db_replica_max_lag = Gauge(
    "db_replica_max_lag_seconds",
    "The replica lag budget (REPLICA_MAX_LAG_SECONDS): replicas lagging more are skipped.",
    multiprocess_mode="livemax",
)
db_router_reads = _db_metrics.READS  # db_router_reads_total{alias}
db_router_fallbacks = _db_metrics.FALLBACKS  # db_router_fallbacks_total{reason}
db_replica_lag = _db_metrics.REPLICA_LAG  # db_replica_lag_seconds{alias}
db_replica_usable = _db_metrics.REPLICA_USABLE  # db_replica_usable{alias}
db_primary_unreachable = _db_metrics.PRIMARY_UNREACHABLE  # db_primary_unreachable

# ------------------------------------------------------------------------------ cache
cache_hits = Counter(
    "cache_hits",
    "Cached results served from a cache tier, by dataset (the cached function's name).",
    ["dataset"],
)
cache_misses = Counter(
    "cache_misses",
    "Cache lookups that had to compute the result, by dataset.",
    ["dataset"],
)
# cache_hit_rate{dataset} is derived at scrape time from the two counters above
# (core/observability/exposition.py): a ratio cannot be summed across workers.
CACHE_HIT_RATE = "cache_hit_rate"
cache_breaker_open = Gauge(
    "cache_breaker_open",
    "1 while the cache's circuit breaker is open (Redis skipped, reads go to the database).",
    multiprocess_mode="livemax",
)
# Added by the caching work (core/cache/): errors, refill time and invalidations per dataset.
cache_errors = Counter(
    "cache_errors",
    "Cache lookups answered from the database because the cache failed (reason=error) or its "
    "circuit breaker was open (reason=breaker_open), by dataset.",
    ["dataset", "reason"],
)
cache_refill_duration = Histogram(
    "cache_refill_duration_seconds",
    "Time to compute a cache miss from the database (the query behind the cached result).",
    ["dataset"],
    buckets=QUERY_DURATION_BUCKETS,
)
cache_invalidations = Counter(
    "cache_invalidations",
    "Dataset versions bumped after a committed write, by version scope (per-date scopes "
    "are counted under their family, e.g. bookings.availability_date).",
    ["scope"],
)

# ------------------------------------------------------------------------------ throttling
throttle_decisions = Counter(
    "throttle_decisions",
    "Throttle decisions by scope and decision (allowed, rejected, shadow_rejected, fail_open, "
    "fail_closed).",
    ["scope", "decision"],
)

# ------------------------------------------------------------------------------ background tasks
# Counted where tasks run (Celery signals, core/background/signals.py): the workers serve them
# on their own /metrics (CELERY_WORKER_METRICS_PORT); tasks run eagerly (the embedded default)
# count on the web process's. Latency buckets reach 15 minutes: an outage's backlog is visible.
TASK_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
TASK_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
tasks_started = Counter("tasks_started", "Task runs started in a worker, by task name.", ["task"])
tasks_succeeded = Counter("tasks_succeeded", "Task runs that returned, by task name.", ["task"])
tasks_failed = Counter(
    "tasks_failed",
    "Task runs that failed for good (kept as dead letters), by task name.",
    ["task"],
)
tasks_retried = Counter(
    "tasks_retried", "Task runs that failed and were scheduled again, by task name.", ["task"]
)
task_queue_latency = Histogram(
    "task_queue_latency_seconds",
    "Time from the write that enqueued a task (its outbox row) to the task's first start, by "
    "task name.",
    ["task"],
    buckets=TASK_LATENCY_BUCKETS,
)
task_duration = Histogram(
    "task_duration_seconds",
    "Time a task run took in the worker, by task name.",
    ["task"],
    buckets=TASK_DURATION_BUCKETS,
)
task_queue_depth = Gauge(
    "task_queue_depth",
    "Messages waiting on the broker, by queue (sampled by the core.sample_metrics task).",
    ["queue"],
    multiprocess_mode="livemostrecent",
)
task_outbox_pending = Gauge(
    "task_outbox_pending",
    "Outbox rows not yet published to the broker (sampled): non-zero for long means the "
    "broker is unreachable.",
    multiprocess_mode="livemostrecent",
)
task_outbox_oldest_age = Gauge(
    "task_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (sampled; 0 when none).",
    multiprocess_mode="livemostrecent",
)
task_publish_failures = Counter(
    "task_publish_failures",
    "Task messages that could not be published at once and were left to the outbox relay, by "
    "reason (error, breaker_open).",
    ["reason"],
)

# ------------------------------------------------------------------------------ business events
blog_posts_created = Counter("blog_posts_created", "Blog posts created (committed).")
user_reviews_submitted = Counter(
    "user_reviews_submitted", "Reviews submitted by customers (committed)."
)
bookings_created = Counter("bookings_created", "Bookings created (committed).")
payments = Counter(
    "payments",
    "Payments entering a status (pending when created, then succeeded, failed or refunded), "
    "by provider (committed).",
    ["provider", "status"],
)


# ------------------------------------------------------------------------------ the API
@cache
def query_duration(alias: str) -> Histogram:
    """``db_query_duration`` of ``alias``: looked up once, as every statement observes it
    (``labels()`` validates and locks on each call: ~1.5 % of a booking's CPU)."""
    return db_query_duration.labels(alias=alias)


def inc_on_commit(counter: Counter, *, using: str | None = None, **labels: str) -> None:
    """Increment ``counter`` (with ``labels``) once the current transaction commits.

    Outside a transaction it counts at once; in a transaction or savepoint that rolls back it
    counts nothing. Labels are checked now, so a wrong name fails at the call site.
    """
    child = counter.labels(**labels) if labels else counter
    transaction.on_commit(partial(child.inc), using=using)


def record_cache_lookup(dataset: str, *, hit: bool, count: int = 1) -> None:
    """Count ``count`` lookups of ``dataset`` in the cache (all hits or all misses), for
    /metrics and the request's log line."""
    from core.observability import context

    if not count:
        return
    (cache_hits if hit else cache_misses).labels(dataset=dataset).inc(count)
    stats = context.current_stats()
    if stats is not None:
        stats.record_cache_lookup(hit=hit, count=count)


def set_cache_breaker_open(is_open: bool) -> None:
    """Report the cache breaker's state (call it on every transition; open = 1)."""
    cache_breaker_open.set(1 if is_open else 0)


def record_throttle_decision(scope: str, decision: str) -> None:
    """Count one throttle decision (``allowed``, ``rejected``, ...) for ``scope``."""
    throttle_decisions.labels(scope=scope, decision=decision).inc()


# ------------------------------------------------------------------------------ the catalogue
# Series other libraries export on /metrics that dashboards and alerts may use.
DJANGO_PROMETHEUS_SERIES = frozenset(
    {
        "django_http_requests_total_by_method_total",
        "django_http_responses_total_by_status_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "django_http_exceptions_total_by_type_total",
        "django_cache_get_total",
        "django_cache_get_hits_total",
        "django_cache_get_misses_total",
        "django_cache_get_fail_total",
    }
)


def application_metrics() -> list[MetricWrapperBase]:
    """Every metric object of this module (including the router's re-exported ones)."""
    seen: dict[int, MetricWrapperBase] = {}
    for value in globals().values():
        if isinstance(value, MetricWrapperBase):
            seen.setdefault(id(value), value)
    return list(seen.values())


def exported_series() -> frozenset[str]:
    """The sample names /metrics can carry: ``http_requests_total``, ``..._bucket``, ..."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("_sum", "_count"),
        "gauge": ("",),
    }
    names = {CACHE_HIT_RATE, *DJANGO_PROMETHEUS_SERIES}
    for metric in application_metrics():
        names.update(f"{metric._name}{suffix}" for suffix in suffixes[str(metric._type)])
    return frozenset(names)
