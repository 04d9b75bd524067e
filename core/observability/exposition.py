"""What ``/metrics`` returns: every worker's values, plus series derived at scrape time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from prometheus_client import REGISTRY, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from core.observability import metrics, multiprocess


class Snapshot:
    """A collector over a fixed list of metric families (what the encoders take)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def snapshot() -> Snapshot:
    """Every metric of every live and dead worker (multiprocess mode) or of this process."""
    path = multiprocess.directory()
    if path is None:
        families = list(REGISTRY.collect())
    else:
        with multiprocess.read_lock(path):
            families = list(MultiProcessCollector(None, str(path)).collect())
    return Snapshot(families + derived_families(families))


def derived_families(families: list[Metric]) -> list[Metric]:
    """``cache_hit_rate{dataset}``: hits / lookups since the server started, over all workers.

    A ratio cannot be kept per worker and summed, so it is computed from the summed counters.
    Alerts and dashboards use the windowed form from the counters (``rate()``) instead.
    """
    totals: dict[str, dict[str, float]] = defaultdict(lambda: {"hits": 0.0, "misses": 0.0})
    wanted = {
        metrics.cache_hits._name + "_total": "hits",
        metrics.cache_misses._name + "_total": "misses",
    }
    for family in families:
        for sample in family.samples:
            kind = wanted.get(sample.name)
            if kind is not None:
                totals[sample.labels.get("dataset", "")][kind] += sample.value
    rate = GaugeMetricFamily(
        metrics.CACHE_HIT_RATE,
        "Share of cache lookups served from the cache since the server started, by dataset.",
        labels=["dataset"],
    )
    for dataset, counts in sorted(totals.items()):
        lookups = counts["hits"] + counts["misses"]
        if lookups:
            rate.add_metric([dataset], counts["hits"] / lookups)
    return [rate]


def render(accept_header: str | None) -> tuple[bytes, str]:
    """The exposition body in the format the scraper asked for, and its content type."""
    encoder, content_type = choose_encoder(accept_header or "")
    return encoder(snapshot()), content_type
