from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core (traffic layer)"

    def ready(self) -> None:
        from core.cache.backend import guarded
        from core.observability.readiness import checks

        # /readyz shows the cache's circuit breaker (not critical: reads fall back to the DB).
        checks.register("cache_breaker", guarded.readiness)
