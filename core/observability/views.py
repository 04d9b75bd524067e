"""Liveness, readiness and metrics endpoints (API.md, Operations)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.observability import access, exposition
from core.observability.readiness import checks

# Load shedding must never refuse a probe or a scrape: a shed probe takes a busy backend out
# of rotation and makes the overload worse (core/throttling/shedding.py reads this).
NEVER_SHED = {"*": "critical"}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the process serves requests; touches no dependency."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the primary database answers, else 503, with each dependency's state."""
    ready, report = checks.evaluate()
    body = {"status": "ok" if ready else "unavailable", "checks": report}
    return JsonResponse(body, status=200 if ready else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition of every worker's metrics, for operators only (403 otherwise)."""
    if not access.may_read_metrics(request):
        return JsonResponse(
            {
                "code": "permission_denied",
                "message": "Metrics are only available from the operators' networks "
                "or with the metrics token.",
            },
            status=403,
        )
    body, content_type = exposition.render(request.headers.get("Accept"))
    return HttpResponse(body, content_type=content_type)


for _view in (healthz, readyz, metrics):
    _view.traffic_priority = NEVER_SHED  # type: ignore[attr-defined]
