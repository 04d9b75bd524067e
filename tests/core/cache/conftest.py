"""Fixtures for the cache tiers: one settable clock for all of them, counted Redis calls, data.

Tests that claim something about the cache run with ``transaction=True``: inside the test
case's transaction every lookup bypasses the cache (a transaction's reads are never shared),
and ``on_commit`` invalidation runs only when something really commits.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import redis
from django.db import connections
from django.utils import timezone

from accounts.models import User
from blog import services as blog_services
from blog.models import Post
from bookings.models import Package, ServiceZone, TimeSlot
from core.cache import local, results, versions
from core.cache.backend import guarded
from core.db.health import registry
from reviews.models import Review
from tests.conftest import make_customer
from tests.reviews.factories import make_booking

TIMEOUT = 60

PACKAGES = "/api/v1/packages/"
SERVICE_AREA = "/api/v1/bookings/service-area/"
FEATURED = "/api/v1/blog/posts/featured/"
POSTS = "/api/v1/blog/posts/"
REVIEWS = "/api/v1/reviews/"
STATS = "/api/v1/reviews/stats/"


def post_url(slug: str) -> str:
    return f"/api/v1/blog/posts/{slug}/"


def availability_url(start: datetime.date, end: datetime.date) -> str:
    return f"/api/v1/bookings/availability/?start={start.isoformat()}&end={end.isoformat()}"


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Every clock of the cache tiers: freshness, version trust, invalidation age, breaker."""
    fake = FakeClock()
    monkeypatch.setattr(results.CachedFunction, "clock", fake)
    monkeypatch.setattr(results.CachedMany, "clock", fake)
    monkeypatch.setattr(local.LocalTier, "clock", fake)
    monkeypatch.setattr(versions.VersionStore, "clock", fake)
    monkeypatch.setattr(versions.VersionStore, "local_clock", fake)
    monkeypatch.setattr(guarded.breaker, "timer", fake)
    return fake


class RedisCalls:
    """Commands this process sent to any Redis (and connection attempts that preceded them)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.count = 0

    def wrap(self, send: Callable) -> Callable:
        def counted(connection, *args, **kwargs):
            with self._lock:
                self.count += 1
            return send(connection, *args, **kwargs)

        return counted


@pytest.fixture
def redis_calls(monkeypatch: pytest.MonkeyPatch) -> RedisCalls:
    calls = RedisCalls()
    send = redis.connection.AbstractConnection.send_packed_command
    monkeypatch.setattr(
        redis.connection.AbstractConnection, "send_packed_command", calls.wrap(send)
    )
    return calls


@pytest.fixture
def frozen_replica_health() -> Iterator[None]:
    """The replica's first health verdict (taken while it is fine) stays for the whole test,
    as within one health-check interval, however long the test takes."""
    stopped = FakeClock()
    registry.timer = stopped  # type: ignore[method-assign]
    registry.reset()
    yield
    del registry.timer
    registry.reset()


def at_once(count: int, call: Callable[[int], object]) -> list:
    """Run ``call(i)`` in ``count`` threads released together; return the results."""
    barrier = threading.Barrier(count, timeout=TIMEOUT)

    def run(index: int) -> object:
        try:
            barrier.wait()
            return call(index)
        finally:
            connections.close_all()  # each thread had its own connection

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count), timeout=TIMEOUT))


@dataclass
class Catalogue:
    """One of everything every public endpoint shows."""

    staff: User
    customer: User
    post: Post
    package: Package
    zone: ServiceZone
    review: Review

    @property
    def today(self) -> datetime.date:
        return timezone.localdate()


@pytest.fixture
def catalogue(transactional_db) -> Catalogue:
    staff = User.objects.create_superuser(
        email="staff@example.com", password="hibachi-Grill-2026", name="Sam Staff"
    )
    customer = make_customer()
    post = blog_services.post_create(
        author=staff, title="Grill night", body="Flames.", tags=["hibachi"], featured=True
    )
    blog_services.post_publish(post=post)
    package = Package.objects.create(name="Classic", price_per_adult=6000, price_per_child=3000)
    zone = ServiceZone.objects.create(name="LA", postcode_prefixes=["900"], travel_fee=0)
    for weekday in TimeSlot.Weekday.values:
        TimeSlot.objects.create(weekday=weekday, start_time=datetime.time(18, 0), capacity=2)
    review = Review.objects.create(
        booking=make_booking(customer=customer, package=package),
        customer=customer,
        rating=5,
        title="Great",
        body="Loved it.",
        status=Review.Status.APPROVED,
    )
    return Catalogue(staff, customer, post, package, zone, review)


def public_urls(catalogue: Catalogue) -> list[str]:
    """Every public, cached endpoint."""
    start = catalogue.today + datetime.timedelta(days=5)
    return [
        PACKAGES,
        SERVICE_AREA,
        availability_url(start, start + datetime.timedelta(days=6)),
        POSTS,
        FEATURED,
        post_url(catalogue.post.slug),
        REVIEWS,
        STATS,
    ]
