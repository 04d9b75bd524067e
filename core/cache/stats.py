"""What ``manage.py cache_stats`` reports: hit rate per dataset, Redis memory and keys, breaker.

Hit and miss counts live in the serving workers, not in the command's process. They are read,
in order of preference, from a backend's ``/metrics`` (``metrics_url``), from the gunicorn
metrics directory (``PROMETHEUS_MULTIPROC_DIR``), or from this process (in a shell or a test).
"""

from __future__ import annotations

import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import caches
from prometheus_client import REGISTRY, CollectorRegistry, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from core.cache import conf, local
from core.cache.backend import guarded
from core.observability import multiprocess

# Key kinds are the first segment after django-redis's "<KEY_PREFIX>:<VERSION>:".
KEY_KINDS = ("result", "version", "lock")
MAX_SCANNED_KEYS = 100_000


@dataclass
class DatasetStats:
    dataset: str
    hits: float = 0.0
    misses: float = 0.0
    errors: float = 0.0

    @property
    def hit_rate(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@dataclass
class CacheReport:
    backend: str
    metrics_source: str
    breaker_state: str  # this process's breaker
    breaker_open_anywhere: bool | None  # any worker's, when the metrics say
    local_entries: int
    local_bytes: int
    datasets: list[DatasetStats] = field(default_factory=list)
    redis: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    keys_complete: bool = True
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for entry in data["datasets"]:
            lookups = entry["hits"] + entry["misses"]
            entry["hit_rate"] = entry["hits"] / lookups if lookups else None
        return data


def collect(*, metrics_url: str | None = None) -> CacheReport:
    """Gather the report; a failing part is reported in ``error``, never raised."""
    backend = caches[conf.alias()]
    source, families = _metric_families(metrics_url)
    report = CacheReport(
        backend=f"{type(backend).__module__}.{type(backend).__name__}",
        metrics_source=source,
        breaker_state=guarded.breaker.state,
        breaker_open_anywhere=None,
        local_entries=len(local.tier),
        local_bytes=local.tier.size_bytes,
    )
    _read_metrics(report, families)
    try:
        _read_redis(report)
    except Exception as exc:  # Redis down is part of the report, not a crash
        report.error = f"{type(exc).__name__}: {exc}"
    return report


def _metric_families(metrics_url: str | None) -> tuple[str, Iterable[Metric]]:
    if metrics_url:
        request = urllib.request.Request(metrics_url)  # noqa: S310 - an operator-given URL
        if settings.METRICS_TOKEN:
            request.add_header("Authorization", f"Bearer {settings.METRICS_TOKEN}")
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            text = answer.read().decode()
        return metrics_url, list(text_string_to_metric_families(text))
    directory = multiprocess.directory()
    if directory is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(directory))
        with multiprocess.read_lock(directory):
            return str(directory), list(registry.collect())
    return "this process", list(REGISTRY.collect())


def _read_metrics(report: CacheReport, families: Iterable[Metric]) -> None:
    datasets: dict[str, DatasetStats] = defaultdict(lambda: DatasetStats(dataset=""))
    for family in families:
        for sample in family.samples:
            if sample.name == "cache_hits_total":
                datasets[sample.labels["dataset"]].hits += sample.value
            elif sample.name == "cache_misses_total":
                datasets[sample.labels["dataset"]].misses += sample.value
            elif sample.name == "cache_errors_total":
                datasets[sample.labels["dataset"]].errors += sample.value
            elif sample.name == "cache_breaker_open":
                was_open = bool(report.breaker_open_anywhere)
                report.breaker_open_anywhere = was_open or sample.value > 0
    for name, stats in datasets.items():
        stats.dataset = name
    report.datasets = sorted(datasets.values(), key=lambda stats: stats.dataset)


def _read_redis(report: CacheReport) -> None:
    backend = caches[conf.alias()]
    if not hasattr(backend, "client") or not hasattr(backend.client, "get_client"):
        return  # not django-redis (the local-memory cache of the embedded default)
    client = backend.client.get_client(write=False)
    memory = client.info("memory")
    stats = client.info("stats")
    report.redis = {
        "used_memory_human": memory.get("used_memory_human"),
        "maxmemory_human": memory.get("maxmemory_human"),
        "maxmemory_policy": memory.get("maxmemory_policy"),
        "evicted_keys": stats.get("evicted_keys"),
        "keyspace_hits": stats.get("keyspace_hits"),
        "keyspace_misses": stats.get("keyspace_misses"),
        "dbsize": client.dbsize(),
    }
    prefix = backend.key_prefix
    counts = dict.fromkeys((*KEY_KINDS, "other"), 0)
    for scanned, raw in enumerate(client.scan_iter(match=f"{prefix}:*", count=1000), start=1):
        if scanned > MAX_SCANNED_KEYS:
            report.keys_complete = False
            break
        key = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        after_version = key[len(prefix) + 1 :].partition(":")[2]
        kind = after_version.partition(":")[0]
        counts[kind if kind in KEY_KINDS else "other"] += 1
    report.keys = counts


def format_report(report: CacheReport) -> str:
    """The report as an operator reads it in a terminal."""
    lines = [
        f"backend        {report.backend}",
        f"breaker        {report.breaker_state} (this process)"
        + (
            ""
            if report.breaker_open_anywhere is None
            else f"; open in some worker: {'yes' if report.breaker_open_anywhere else 'no'}"
        ),
        f"L1 tier        {report.local_entries} entries, {report.local_bytes} bytes (this process)",
        f"metrics from   {report.metrics_source}",
        "",
        f"{'dataset':<32} {'hits':>10} {'misses':>10} {'errors':>8} {'hit rate':>9}",
    ]
    for stats in report.datasets:
        rate = "-" if stats.hit_rate is None else f"{stats.hit_rate:.1%}"
        lines.append(
            f"{stats.dataset:<32} {stats.hits:>10.0f} {stats.misses:>10.0f} "
            f"{stats.errors:>8.0f} {rate:>9}"
        )
    if not report.datasets:
        lines.append("(no lookups counted yet)")
    if report.redis:
        lines += ["", *(f"{name:<18} {value}" for name, value in report.redis.items())]
    if report.keys:
        suffix = "" if report.keys_complete else f" (first {MAX_SCANNED_KEYS} keys only)"
        counts = ", ".join(f"{kind} {count}" for kind, count in report.keys.items())
        lines.append(f"{'keys':<18} {counts}{suffix}")
    if report.error:
        lines += ["", f"error: {report.error}"]
    return "\n".join(lines) + "\n"
