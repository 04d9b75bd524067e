"""The throttle scopes of ``THROTTLE_SCOPES``, parsed once into typed policies.

``THROTTLE_SCOPES`` (config/settings/base.py) stays a plain dict so that the environment and
tests can set it; everything that reads it goes through ``scope_policy()``, which parses and
checks the whole dict once (again only when the setting changes: tests' ``override_settings``),
so a typo in a scope is an ``ImproperlyConfigured`` naming it, not a ``KeyError`` mid-request.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, cast, get_args

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from core.throttling.rates import Rate, parse_rate

# What a scope counts by: the client's address, the account, the account if logged in else
# the address, the login form's email, or that email from one address.
KeyKind = Literal["ip", "user", "client", "email", "email_ip"]
# While Redis is unavailable: a per-process limiter ("open") or a 503 ("closed").
FailurePolicy = Literal["open", "closed"]


@dataclass(frozen=True)
class ScopePolicy:
    name: str
    rates: tuple[Rate, ...]
    key: KeyKind
    on_redis_failure: FailurePolicy = "open"
    # Counts can be given back (a login that succeeded): refusals are never cached per process.
    refunded: bool = False

    @property
    def fails_closed(self) -> bool:
        return self.on_redis_failure == "closed"


def scope_policy(scope: str) -> ScopePolicy:
    """The policy of ``scope``; ``ImproperlyConfigured`` when ``THROTTLE_SCOPES`` lacks it."""
    try:
        return all_policies()[scope]
    except KeyError:
        raise ImproperlyConfigured(f"THROTTLE_SCOPES has no scope {scope!r}.") from None


@lru_cache(maxsize=1)
def all_policies() -> dict[str, ScopePolicy]:
    """Every configured scope's policy, parsed from the current settings."""
    return {name: _parse(name, raw) for name, raw in settings.THROTTLE_SCOPES.items()}


def _parse(name: str, raw: dict[str, Any]) -> ScopePolicy:
    key = raw.get("key")
    if key not in get_args(KeyKind):
        raise ImproperlyConfigured(f"THROTTLE_SCOPES[{name!r}]: unknown key {key!r}.")
    failure = raw.get("on_redis_failure", "open")
    if failure not in get_args(FailurePolicy):
        raise ImproperlyConfigured(
            f"THROTTLE_SCOPES[{name!r}]: on_redis_failure must be 'open' or 'closed'."
        )
    texts = tuple(raw.get("rates", ()))
    try:
        rates = tuple(parse_rate(text) for text in texts)
    except ValueError as exc:
        raise ImproperlyConfigured(f"THROTTLE_SCOPES[{name!r}]: {exc}") from None
    return ScopePolicy(
        name=name,
        rates=rates,
        key=cast(KeyKind, key),
        on_redis_failure=cast(FailurePolicy, failure),
        refunded=bool(raw.get("refunded", False)),
    )


@receiver(setting_changed)
def _forget_policies(*, setting: str, **kwargs: Any) -> None:
    if setting == "THROTTLE_SCOPES":
        all_policies.cache_clear()
