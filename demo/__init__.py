"""Demo data for every app (``manage.py seed_demo``): the one place that imports them all.

It lives outside ``core`` because core imports no app; each app keeps its own generator in
``<app>/demo_data.py`` and this command orders them (catalogue, customers, posts, bookings,
payments, reviews).
"""
