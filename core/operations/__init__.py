"""The staff operations dashboard in the admin (``/admin/operations/``).

``dashboard`` gathers the figures from the sources operators already trust: the ``/readyz``
checks, the ``/metrics`` snapshot (every worker's counters under gunicorn), ``dbstatus``'s live
probe of each database alias, and the bookings table. ``views`` renders them for staff.
"""
