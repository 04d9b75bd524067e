"""Observability: metrics, request ids, JSON logs, and the /healthz /readyz /metrics views.

- ``core.observability.metrics``: every metric and the small API to move them
  (``inc_on_commit``, ``record_cache_lookup``, ``set_cache_breaker_open``, ...).
- ``core.observability.middleware``: request id + JSON log line, HTTP metrics.
- ``core.observability.logging``: ``JsonFormatter`` and ``RequestIdFilter`` for ``LOGGING``.
- ``core.observability.readiness.checks``: what ``/readyz`` checks; other modules register more.
- ``core.observability.multiprocess``: the gunicorn metrics directory (deploy/gunicorn.conf.py).

Kept free of imports: the gunicorn master imports ``core.observability.multiprocess`` before
Django is configured.
"""
