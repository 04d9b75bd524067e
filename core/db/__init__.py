"""Read replicas: the router, read-your-writes pinning, replica health and lag, ``use_primary()``.

Wiring (config/settings/base.py)::

    DATABASE_ROUTERS = ["core.db.routers.ReplicaRouter"]
    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "core.db.middleware.ReplicaPinningMiddleware", ...]

Public API: ``use_primary()`` (context manager and decorator), ``routing_scope()`` (one per
background task), ``core.db.health.registry`` (replica verdicts), ``core.db.metrics``
(counters), ``core.db.status.database_status()`` (what ``manage.py dbstatus`` prints).

Connections: persistent connections (``CONN_MAX_AGE`` + ``CONN_HEALTH_CHECKS``), not psycopg's
pool; see config/settings/base.py for the numbers behind that choice.
"""

from core.db.routing import routing_scope, use_primary

__all__ = ["routing_scope", "use_primary"]
