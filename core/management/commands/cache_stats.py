"""``manage.py cache_stats [--metrics-url URL] [--json]``: hit rates, Redis memory, breaker."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.cache.stats import collect, format_report


class Command(BaseCommand):
    help = (
        "Show the cache: hit rate per dataset (from a backend's /metrics with --metrics-url, "
        "else from PROMETHEUS_MULTIPROC_DIR, else this process), Redis memory and key counts, "
        "and the circuit breaker's state."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--metrics-url", help="a backend's /metrics, e.g. http://127.0.0.1:8000/metrics"
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args: Any, metrics_url: str | None, **options: Any) -> None:
        report = collect(metrics_url=metrics_url)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write(format_report(report))
