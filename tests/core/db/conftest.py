"""Fixtures for the replica router tests: a settable clock, counter deltas, aged tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import Counter
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from core.db import metrics
from core.db.health import primary_status, registry


class FakeClock:
    """Monotonic time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """The health clocks: cached verdicts expire only on ``clock.advance()``."""
    fake = FakeClock()
    registry.timer = primary_status.timer = fake  # type: ignore[method-assign]
    registry.reset()
    primary_status.reset()
    yield fake
    del registry.timer, primary_status.timer
    registry.reset()
    primary_status.reset()


class Counters:
    """The router's counters relative to the start of the test (or the last ``reset()``)."""

    COUNTERS = (
        metrics.READS,
        metrics.PINNED_READS,
        metrics.FALLBACKS,
        metrics.PINS,
        metrics.HEALTH_CHECKS,
    )

    def __init__(self) -> None:
        self._base = self._read()

    @classmethod
    def _read(cls) -> dict[tuple[Counter, str], float]:
        values = {}
        for counter in cls.COUNTERS:
            for family in counter.collect():
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        (label,) = sample.labels.values()
                        values[(counter, label)] = sample.value
        return values

    def reset(self) -> None:
        self._base = self._read()

    def __call__(self, counter: Counter, label: str) -> float:
        key = (counter, label)
        return self._read().get(key, 0.0) - self._base.get(key, 0.0)


@pytest.fixture
def counters() -> Counters:
    return Counters()


def aged_token(user: User, age: timedelta = timedelta(hours=1)) -> Token:
    """A token issued long before the pin window (an existing app install)."""
    token, _ = Token.objects.get_or_create(user=user)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - age)
    return token


class CookielessClient(APIClient):
    """A client like the mobile app: it never sends back a cookie it was given."""

    def request(self, **kwargs):
        response = super().request(**kwargs)
        self.cookies.clear()
        return response


def token_client(key: str) -> CookielessClient:
    client = CookielessClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
