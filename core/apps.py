from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core (traffic layer)"

    def ready(self) -> None:
        from core.background import signals
        from core.cache.backend import guarded
        from core.observability.readiness import checks

        # Task metrics, and the worker's /metrics and readiness file (core/background/).
        signals.connect()

        # /readyz shows the cache's circuit breaker (not critical: reads fall back to the DB).
        checks.register("cache_breaker", guarded.readiness)
