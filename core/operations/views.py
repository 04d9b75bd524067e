"""The operations dashboard page, for staff (wired in config/urls.py through ``admin_view``)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.operations import dashboard

# The admin's index shows a link to the dashboard (templates/operations/admin_index.html).
ADMIN_INDEX_TEMPLATE = "operations/admin_index.html"
# Seconds between the page's own reloads: the figures are live, and a wall screen stays fresh.
REFRESH_SECONDS = 30


def operations_dashboard(
    request: HttpRequest, *, site: admin.AdminSite = admin.site
) -> TemplateResponse:
    """Replica roles and lag, dependencies, cache hit rate and breaker, throttle decisions per
    scope and today's bookings per slot. Staff only: ``site.admin_view`` sends anyone else to
    the admin login and marks the page never-cached."""
    context = {
        **site.each_context(request),
        "title": "Operations",
        "dashboard": dashboard.collect(),
        "refresh_seconds": REFRESH_SECONDS,
    }
    return TemplateResponse(request, "operations/dashboard.html", context)
