"""The login failure policy shared by the API token login and the admin login.

Why and the numbers: docs/login-policy.md. Every attempt is charged to the client's address
(``login_ip``) and, before the password is checked, to one failure budget of the account:
``login_email_known`` (per account and address) when the address logged into the account in
the last ``LOGIN_KNOWN_ADDRESS_DAYS`` days, else ``login_email`` (per account). Charging before
the check keeps the budget exact under concurrency (a burst cannot check more passwords than
the budget has left); an attempt that turns out not to be a failure is given back, so only
failures count. A stranger can spend the account's unknown-address budget, never the owner's
known-address one.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts import signals
from accounts.models import User
from core.http.client_ip import client_ip_bucket
from core.throttling.limiter import email_identity, get_limiter
from core.throttling.throttles import outcome_of, throttle_now

UNKNOWN_ADDRESS_SCOPE = "login_email"
KNOWN_ADDRESS_SCOPE = "login_email_known"
FAILURE_SCOPES = (UNKNOWN_ADDRESS_SCOPE, KNOWN_ADDRESS_SCOPE)


def login_throttle_scopes(request: HttpRequest, email: str | None) -> list[str]:
    """The scopes a login attempt for ``email`` is charged to (sets the throttle's email)."""
    request.throttle_email = email  # type: ignore[attr-defined]
    if not settings.THROTTLE_ENABLED or not email:
        return ["login_ip", UNKNOWN_ADDRESS_SCOPE]
    known = get_limiter().marked(
        _known_key(request, email),
        ttl_seconds=settings.LOGIN_KNOWN_ADDRESS_DAYS * 86400,
        now=throttle_now(),
    )
    return ["login_ip", KNOWN_ADDRESS_SCOPE if known else UNKNOWN_ADDRESS_SCOPE]


def login_succeeded(request: HttpRequest, *, user: User) -> None:
    """Give the attempt back to the account's failure budget and remember the address."""
    if not settings.THROTTLE_ENABLED:
        return
    login_not_attempted(request)
    get_limiter().mark(
        _known_key(request, user.email),
        ttl_seconds=settings.LOGIN_KNOWN_ADDRESS_DAYS * 86400,
        now=throttle_now(),
    )


def login_not_attempted(request: HttpRequest) -> None:
    """The request checked no password (e.g. a malformed body): give it back."""
    outcome = outcome_of(request)
    if settings.THROTTLE_ENABLED and outcome is not None:
        get_limiter().refund(outcome, FAILURE_SCOPES)


def login_failed(request: HttpRequest, *, email: str) -> None:
    """A wrong password: the attempt stays charged. When the account's failures from unknown
    addresses reach ``LOGIN_ALERT_AFTER_FAILURES`` in the day's window, its owner is emailed,
    once per incident (the first alert opens one for ``LOGIN_ALERT_INCIDENT_HOURS``)."""
    outcome = outcome_of(request)
    if not settings.THROTTLE_ENABLED or outcome is None:
        return
    failures = max(
        (state.count for item, state in outcome.states if item.scope == UNKNOWN_ADDRESS_SCOPE),
        default=0,
    )
    if failures < settings.LOGIN_ALERT_AFTER_FAILURES:
        return
    user = User.objects.filter(email=email.strip().lower(), is_active=True).first()
    if user is None:  # nobody to tell; an unknown email costs the same as a known one
        return
    opened = get_limiter().mark(
        f"{settings.CACHE_KEY_PREFIX}:login_incident:{email_identity(email)}",
        ttl_seconds=settings.LOGIN_ALERT_INCIDENT_HOURS * 3600,
        now=throttle_now(),
        only_if_new=True,
    )
    if opened:
        # notifications records and emails it (accounts/signals.py)
        signals.login_failures_alert.send(
            sender=User, user=user, incident=str(outcome.at_ms), failures=failures
        )


def _known_key(request: HttpRequest, email: str) -> str:
    return (
        f"{settings.CACHE_KEY_PREFIX}:login_known:{email_identity(email)}"
        f":ip:{client_ip_bucket(request)}"
    )


def admin_login_finished(request: HttpRequest, response: HttpResponse) -> None:
    """After an admin login POST: a redirect with a logged-in user is a success; the form again
    is a failure (a wrong password, or an account that may not use the admin)."""
    user = getattr(request, "user", None)
    if response.status_code in (301, 302) and getattr(user, "is_authenticated", False):
        login_succeeded(request, user=user)  # type: ignore[arg-type]
        return
    email = getattr(request, "throttle_email", None)
    if email:
        login_failed(request, email=email)
