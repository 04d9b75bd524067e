"""Liveness and readiness probes (API.md, Operations)."""

from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the process serves requests; touches no dependency."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the primary database answers, else 503, with each dependency's state."""
    primary_ok = _database_answers(DEFAULT_DB_ALIAS)
    body = {
        "status": "ok" if primary_ok else "unavailable",
        "checks": {"primary": {"status": "ok" if primary_ok else "down"}},
    }
    return JsonResponse(body, status=200 if primary_ok else 503)


def _database_answers(alias: str) -> bool:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False
