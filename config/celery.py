"""The Celery application: settings from Django's (``CELERY_*``), tasks from each app's tasks.py.

Workers and beat start with ``celery -A config worker`` / ``celery -A config beat`` (the
Makefile's ``make worker``, deploy/). What tasks promise and how they are enqueued:
core/background/.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("myhibachi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The liveness file of Kubernetes' probe, touched by the worker's event loop.
app.steps["worker"].add("core.background.liveness:LivenessFile")
