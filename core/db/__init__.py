"""Read replicas: the router, read-your-writes pinning, replica health and lag, ``use_primary()``.

Wiring (config/settings/base.py)::

    DATABASE_ROUTERS = ["core.db.routers.ReplicaRouter"]
    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "core.db.middleware.ReplicaPinningMiddleware", ...]
    # replica aliases use ENGINE "core.db.backends.postgresql" (retry on the primary)

Public API:

- ``use_primary()``: context manager and decorator; every read inside goes to the primary.
- ``routing_scope()``: one per background task, so a task reads its own writes.
- ``core.db.health.registry``: per-process replica verdicts (``health(alias)``,
  ``mark_down()``, ``refresh()``); ``core.db.metrics``: the counters; ``core.db.status``:
  what ``manage.py dbstatus`` prints.

Settings: ``REPLICA_READS_ENABLED``, ``REPLICA_MAX_LAG_SECONDS``, ``REPLICA_HEALTH_CHECK_SECONDS``,
``REPLICA_PIN_SECONDS``, ``REPLICA_WEIGHTS``, ``REPLICA_PRIMARY_MODELS``, ``REPLICA_PIN_CACHE``.

Connections: persistent connections (``CONN_MAX_AGE=60`` with ``CONN_HEALTH_CHECKS``), not
psycopg's pool (Django's ``OPTIONS["pool"]``). Measured on the 2-vCPU dev machine against a
local primary: a request cycle (request_started, one indexed read, request_finished), best of 3
x 3000, two runs:

    mode                        1 thread           4 threads
    persistent + health checks  3.3k - 6.6k req/s  5.2k - 6.0k req/s
    pool + health checks        3.5k - 4.5k req/s  4.5k - 4.7k req/s
    persistent, no checks       5.9k - 9.1k req/s  5.1k - 8.3k req/s
    pool, no checks             6.8k - 6.9k req/s  5.3k - 6.3k req/s
    new connection per request  ~0.2k req/s        ~0.3k req/s

With health checks on (which a replica that comes and goes needs), the two are within the
machine's noise, the pool a little slower. What decides it: under gunicorn gthread a worker's
threads map one-to-one onto persistent connections, so the count is bounded and known
(workers x threads x aliases); a dead replica fails a persistent connection's connect at once,
while a pool's ``getconn`` waits up to its ``timeout`` (30 s by default) for a connection it
cannot make, which would hang the read before the retry on the primary. Revisit for ASGI or
for many more threads per worker than concurrent queries, where a pool holds fewer connections.
``dbstatus`` shows the mode per alias and the server-side connection counts.
"""

from core.db.routing import routing_scope, use_primary

__all__ = ["routing_scope", "use_primary"]
