"""The figures on the staff operations dashboard, read from the sources operators already use.

- databases: ``core.db.status.database_status()`` (what ``manage.py dbstatus`` prints): each
  alias's role, state, replication lag and whether reads go there, probed now.
- dependencies: the ``/readyz`` checks (``core.observability.readiness.checks``), including the
  cache circuit breaker as this process sees it.
- cache hit rate, breaker and throttle decisions: the ``/metrics`` snapshot
  (``core.observability.exposition.snapshot()``), which under gunicorn adds up every worker, so
  the dashboard and Prometheus agree whichever worker serves the page.
- today's bookings per slot: the selector named by ``OPERATIONS_SLOTS_SELECTOR``
  (``bookings.selectors.bookings_per_slot``), looked up by name because core imports no app.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from prometheus_client import Metric
from prometheus_client.samples import Sample

from core.db.status import AliasStatus, database_status
from core.observability import exposition
from core.observability.readiness import checks
from core.throttling.policies import all_policies

THROTTLE_DECISIONS = ("allowed", "rejected", "shadow_rejected", "fail_open", "fail_closed")


@dataclass(frozen=True)
class CacheDataset:
    dataset: str
    hits: int
    misses: int

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate_percent(self) -> float | None:
        """Share of lookups served from the cache since the servers started; None: no lookups."""
        return 100.0 * self.hits / self.lookups if self.lookups else None


@dataclass(frozen=True)
class CacheFigures:
    datasets: list[CacheDataset]
    # The breaker of the process serving this page (/readyz's "cache_breaker" entry) ...
    breaker_state: str
    # ... and whether any worker reports it open (cache_breaker_open on /metrics).
    breaker_open_anywhere: bool

    @property
    def total(self) -> CacheDataset:
        return CacheDataset(
            "all datasets",
            hits=sum(d.hits for d in self.datasets),
            misses=sum(d.misses for d in self.datasets),
        )


@dataclass(frozen=True)
class ThrottleScope:
    scope: str
    decisions: dict[str, int]

    @property
    def allowed(self) -> int:
        return self.decisions.get("allowed", 0)

    @property
    def rejected(self) -> int:
        return self.decisions.get("rejected", 0)

    @property
    def shadow_rejected(self) -> int:
        return self.decisions.get("shadow_rejected", 0)

    @property
    def fail_open(self) -> int:
        return self.decisions.get("fail_open", 0)

    @property
    def fail_closed(self) -> int:
        return self.decisions.get("fail_closed", 0)


@dataclass(frozen=True)
class Dashboard:
    generated_at: datetime.datetime
    ready: bool
    readiness: dict[str, dict[str, Any]]
    databases: list[AliasStatus]
    cache: CacheFigures
    throttles: list[ThrottleScope]
    today: datetime.date
    # The bookings app's ``SlotBookings`` rows (core imports no app: see ``todays_slots``).
    slots: list[Any]


def collect(*, today: datetime.date | None = None) -> Dashboard:
    """Every figure, read now. Nothing here raises for a dependency that is down: the readiness
    checks and the database probe report failures as states."""
    ready, readiness = checks.evaluate()
    families = list(exposition.snapshot().collect())
    today = today or timezone.localdate()
    return Dashboard(
        generated_at=timezone.now(),
        ready=ready,
        readiness=readiness,
        databases=database_status(),
        cache=cache_figures(families, readiness),
        throttles=throttle_figures(families),
        today=today,
        slots=todays_slots(day=today),
    )


def _samples(families: Iterable[Metric], name: str) -> Iterator[Sample]:
    for family in families:
        for sample in family.samples:
            if sample.name == name:
                yield sample


def cache_figures(families: list[Metric], readiness: dict[str, dict[str, Any]]) -> CacheFigures:
    """Hits and misses per dataset (``cache_hits_total``/``cache_misses_total``) and the
    breaker's state."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"hits": 0, "misses": 0})
    for kind in ("hits", "misses"):
        for sample in _samples(families, f"cache_{kind}_total"):
            counts[sample.labels.get("dataset", "")][kind] += int(sample.value)
    datasets = [
        CacheDataset(dataset, hits=c["hits"], misses=c["misses"])
        for dataset, c in sorted(counts.items())
    ]
    breaker = readiness.get("cache_breaker", {})
    open_anywhere = any(s.value >= 1 for s in _samples(families, "cache_breaker_open"))
    return CacheFigures(
        datasets=datasets,
        breaker_state=str(breaker.get("state") or breaker.get("status") or "unknown"),
        breaker_open_anywhere=open_anywhere,
    )


def throttle_figures(families: list[Metric]) -> list[ThrottleScope]:
    """Decisions per scope (``throttle_decisions_total``): every configured scope, even one
    that has seen no traffic yet, then any other scope the counters name."""
    decisions: dict[str, dict[str, int]] = {
        scope: dict.fromkeys(THROTTLE_DECISIONS, 0) for scope in all_policies()
    }
    for sample in _samples(families, "throttle_decisions_total"):
        scope = sample.labels.get("scope", "")
        decision = sample.labels.get("decision", "")
        row = decisions.setdefault(scope, dict.fromkeys(THROTTLE_DECISIONS, 0))
        row[decision] = row.get(decision, 0) + int(sample.value)
    return [ThrottleScope(scope, counts) for scope, counts in decisions.items()]


def todays_slots(*, day: datetime.date) -> list[Any]:
    """Every slot of ``day`` with its capacity and bookings by status, from the bookings app's
    selector named in settings."""
    selector: Callable[..., list[Any]] = import_string(settings.OPERATIONS_SLOTS_SELECTOR)
    return selector(day=day)
