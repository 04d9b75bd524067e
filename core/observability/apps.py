"""Wires the observability layer in: database instrumentation and configuration checks."""

from django.apps import AppConfig
from django.core import checks


class ObservabilityConfig(AppConfig):
    name = "core.observability"
    label = "observability"
    verbose_name = "Observability (metrics, logs, probes)"

    def ready(self) -> None:
        from core.db import conf as db_conf
        from core.observability import database, metrics

        database.install()
        metrics.db_replica_max_lag.set(db_conf.max_lag_seconds())
        checks.register(check_network_settings)


def check_network_settings(**kwargs: object) -> list[checks.CheckMessage]:
    """METRICS_ALLOWED_NETWORKS and TRUSTED_PROXIES must be valid CIDRs (at start-up, not at
    the first scrape)."""
    import ipaddress

    from django.conf import settings

    errors: list[checks.CheckMessage] = []
    for name in ("METRICS_ALLOWED_NETWORKS", "TRUSTED_PROXIES"):
        for value in getattr(settings, name, ()):
            try:
                ipaddress.ip_network(value.strip(), strict=False)
            except ValueError:
                errors.append(
                    checks.Error(
                        f"{name} contains {value!r}, which is not an IP network (CIDR).",
                        id="observability.E001",
                    )
                )
    return errors
