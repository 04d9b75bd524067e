"""The same limits for plain Django views (the admin login), which DRF throttles cannot reach."""

import functools
import math
from collections.abc import Callable, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.http.errors import ApplicationError
from core.throttling.limiter import get_limiter, limits_for

View = Callable[..., HttpResponse]


def throttled(
    view: View, *, scopes: Sequence[str], email_field: str = "username", methods=("POST",)
) -> View:
    """Wrap ``view`` so its ``methods`` count against ``scopes``; refused requests get 429
    with the API.md error body and ``Retry-After``, a failed closed scope 503."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not settings.THROTTLE_ENABLED or request.method not in methods:
            return view(request, *args, **kwargs)
        request.throttle_email = request.POST.get(email_field) or None  # type: ignore[attr-defined]
        try:
            outcome = get_limiter().hit(limits_for(request, request.user, scopes))
        except ApplicationError as exc:
            return JsonResponse(exc.body(), status=exc.status_code, headers=exc.headers())
        if outcome.allowed:
            return view(request, *args, **kwargs)
        response = JsonResponse(
            {"code": "throttled", "message": "Too many attempts. Please wait and retry."},
            status=429,
        )
        response["Retry-After"] = str(math.ceil(outcome.retry_after))
        return response

    return wrapper
