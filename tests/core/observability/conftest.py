"""Reading metrics the way an operator does: from /metrics, as deltas over a test."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.bookings.conftest import catalogue  # noqa: F401 (a fixture the tests here use)

Labels = dict[str, str]


def sample(name: str, labels: Labels | None = None) -> float:
    """The value of one series in this process (0 when it does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def parse_exposition(text: str) -> dict[tuple[str, frozenset], float]:
    """``{(sample name, frozenset(labels)): value}`` from Prometheus text format."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def series(scraped: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scrape(client):
    """GET /metrics from loopback (allowed) and parse it."""

    def _scrape() -> dict[tuple[str, frozenset], float]:
        response = client.get("/metrics")
        assert response.status_code == 200, response.content[:300]
        return parse_exposition(response.content.decode())

    return _scrape
