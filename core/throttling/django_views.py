"""The same limits for plain Django views (the admin login), which DRF throttles cannot reach."""

import functools
import math
from collections.abc import Callable, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.http.errors import ApplicationError
from core.throttling.throttles import count_request

View = Callable[..., HttpResponse]
# The scopes of one request, given it and the email it names (None when it names none).
ScopesFor = Callable[[HttpRequest, str | None], Sequence[str]]


def throttled(
    view: View,
    *,
    scopes: Sequence[str] | ScopesFor,
    email_field: str = "username",
    methods: Sequence[str] = ("POST",),
    after: Callable[[HttpRequest, HttpResponse], None] | None = None,
) -> View:
    """Wrap ``view`` so its ``methods`` count against ``scopes`` (or the scopes a callable
    gives); refused requests get 429 with the API.md error body and ``Retry-After``, a failed
    closed scope 503. ``after`` sees each counted request's response (e.g. to give a
    successful login back)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not settings.THROTTLE_ENABLED or request.method not in methods:
            return view(request, *args, **kwargs)
        email = request.POST.get(email_field) or None
        request.throttle_email = email  # type: ignore[attr-defined]
        names = scopes(request, email) if callable(scopes) else scopes
        try:
            outcome = count_request(request, request.user, names)
        except ApplicationError as exc:
            return JsonResponse(exc.body(), status=exc.status_code, headers=exc.headers())
        if outcome.allowed:
            response = view(request, *args, **kwargs)
            if after is not None:
                after(request, response)
            return response
        response = JsonResponse(
            {"code": "throttled", "message": "Too many attempts. Please wait and retry."},
            status=429,
        )
        response["Retry-After"] = str(math.ceil(outcome.retry_after))
        return response

    return wrapper
