"""Wires the observability layer in: database instrumentation and configuration checks."""

from django.apps import AppConfig
from django.core import checks


class ObservabilityConfig(AppConfig):
    name = "core.observability"
    label = "observability"
    verbose_name = "Observability (metrics, logs, probes)"

    def ready(self) -> None:
        from core.observability import database

        database.install()
        publish_settings()
        checks.register(check_network_settings)


def publish_settings() -> None:
    """The gauges that report settings. Called again in each forked gunicorn worker
    (deploy/gunicorn.conf.py ``post_fork``): a forked process starts its multiprocess metric
    values empty, so what the master set while importing the app (preload_app) is lost."""
    from core.db import conf as db_conf
    from core.observability import metrics

    metrics.db_replica_max_lag.set(db_conf.max_lag_seconds())


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
