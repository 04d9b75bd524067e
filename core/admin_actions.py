"""Admin bulk actions that run a service once per selected object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.http.errors import ApplicationError


def apply_to_each(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    service: Callable[[int], object],
    *,
    verb: str,
) -> int:
    """Call ``service(pk)`` for each selected object in pk order (the services' lock order).

    A refused object (an ``ApplicationError``) is reported to the staff member and skipped;
    it never turns the whole action into a 500. Returns how many succeeded.
    """
    noun = modeladmin.model._meta.verbose_name
    done = 0
    for pk in queryset.values_list("pk", flat=True).order_by("pk"):
        try:
            service(pk)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{noun} #{pk}: {exc.message}", messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{done} {noun}(s) {verb}.", messages.SUCCESS)
    return done
