"""The framework floor: Django with no middleware and no apps, serving constant JSON (``/json``)
and one ORM query (``/db/<slug>``), under the same gunicorn configuration as the backends.

TechEmpower's Django ``/json`` and ``/db`` tests in spirit: what any endpoint of ours pays at
least, before security, auth, throttling, metrics and logging.
"""
