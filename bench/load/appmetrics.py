"""What the backends say they did during a run: differences of their ``/metrics`` counters.

Read before and after each run from every backend that could have served it; the benchmark's
own scrapes are left out (their ``endpoint`` label is the metrics route).
"""

from __future__ import annotations

import dataclasses
import time
import urllib.request
from collections.abc import Callable, Iterable

from prometheus_client.parser import text_string_to_metric_families

# http_requests_total{endpoint=...} of the scrape itself (the route name of /metrics).
_SCRAPE_ENDPOINTS = {"metrics", "/metrics"}


@dataclasses.dataclass
class AppCounters:
    """Counters summed over backends, workers and labels."""

    requests: float = 0.0
    requests_by_class: dict[str, float] = dataclasses.field(default_factory=dict)
    queries: float = 0.0
    cache_hits: float = 0.0
    cache_misses: float = 0.0
    throttle_rejected: float = 0.0

    def __sub__(self, other: AppCounters) -> AppCounters:
        classes = set(self.requests_by_class) | set(other.requests_by_class)
        return AppCounters(
            requests=self.requests - other.requests,
            requests_by_class={
                name: self.requests_by_class.get(name, 0) - other.requests_by_class.get(name, 0)
                for name in sorted(classes)
            },
            queries=self.queries - other.queries,
            cache_hits=self.cache_hits - other.cache_hits,
            cache_misses=self.cache_misses - other.cache_misses,
            throttle_rejected=self.throttle_rejected - other.throttle_rejected,
        )

    def __add__(self, other: AppCounters) -> AppCounters:
        classes = set(self.requests_by_class) | set(other.requests_by_class)
        return AppCounters(
            requests=self.requests + other.requests,
            requests_by_class={
                name: self.requests_by_class.get(name, 0) + other.requests_by_class.get(name, 0)
                for name in sorted(classes)
            },
            queries=self.queries + other.queries,
            cache_hits=self.cache_hits + other.cache_hits,
            cache_misses=self.cache_misses + other.cache_misses,
            throttle_rejected=self.throttle_rejected + other.throttle_rejected,
        )

    @property
    def cache_hit_rate(self) -> float | None:
        lookups = self.cache_hits + self.cache_misses
        return self.cache_hits / lookups if lookups else None

    def as_dict(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "cache_hit_rate": self.cache_hit_rate}


def parse(text: str) -> AppCounters:
    """The counters the benchmark reports, from one Prometheus text exposition."""
    counters = AppCounters()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "http_requests_total":
                if labels.get("endpoint") in _SCRAPE_ENDPOINTS:
                    continue
                counters.requests += value
                status_class = f"{str(labels.get('status', '?'))[:1]}xx"
                counters.requests_by_class[status_class] = (
                    counters.requests_by_class.get(status_class, 0) + value
                )
            elif name == "db_query_duration_seconds_count":
                counters.queries += value
            elif name == "cache_hits_total":
                counters.cache_hits += value
            elif name == "cache_misses_total":
                counters.cache_misses += value
            elif name == "throttle_decisions_total" and labels.get("decision") == "rejected":
                counters.throttle_rejected += value
    return counters


def scrape(base_urls: Iterable[str], timeout: float = 10) -> AppCounters:
    """Sum the counters of every backend in ``base_urls`` (``http://127.0.0.1:PORT``)."""
    total = AppCounters()
    for base in base_urls:
        with urllib.request.urlopen(f"{base}/metrics", timeout=timeout) as response:  # noqa: S310 - loopback
            total = total + parse(response.read().decode())
    return total


def scrape_settled(
    base_urls: Iterable[str],
    *,
    quiet_s: float = 0.3,
    limit_s: float = 15.0,
    scrape_once: Callable[[list[str]], AppCounters] | None = None,
) -> AppCounters:
    """``scrape`` once the backends have finished what they were answering: two scrapes
    ``quiet_s`` apart with the same request and statement counts (at most ``limit_s``).

    When wrk stops, up to one request per connection is still being served; scraped at once,
    those requests' statements fall on one side of the window and their answers on the other
    (at 256 connections a booking run counted 6.8 statements a booking for 6).
    """
    urls = list(base_urls)
    read = scrape_once or scrape
    deadline = time.monotonic() + limit_s
    last = read(urls)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = read(urls)
        if (now.requests, now.queries) == (last.requests, last.queries):
            return now
        last = now
    return last
