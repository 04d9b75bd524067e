"""/healthz and /readyz against the real primary, replica and Redis."""

from __future__ import annotations

import pytest

from core.observability import readiness
from core.observability.readiness import ReadinessChecks
from tests.core.observability.conftest import parse_exposition


def test_healthz_touches_nothing(client):
    # no database access is allowed in this test: a query would raise
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.servers
class TestAgainstTheServers:
    def test_ready_lists_every_dependency(self, client, pg_cluster, redis_server):
        response = client.get("/readyz")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "ok"
        checks = body["checks"]
        assert checks["primary"] == {"status": "ok"}
        assert checks["replica_1"]["status"] == "ok"
        assert isinstance(checks["replica_1"]["lag_seconds"], float)
        assert checks["cache"] == {"status": "ok", "backend": "redis"}
        # the cache module replaces the placeholder ("unknown") with its breaker: closed = ok
        assert checks["cache_breaker"]["status"] in {"ok", "unknown"}
        assert "no-cache" in response["Cache-Control"]
        # and the replica's lag, just measured, is on /metrics too
        scraped = parse_exposition(client.get("/metrics").content.decode())
        assert ("db_replica_lag_seconds", frozenset({("alias", "replica_1")})) in scraped

    def test_503_while_the_primary_is_stopped_and_200_once_it_is_back(
        self, client, pg_cluster, redis_server
    ):
        # given a ready backend
        assert client.get("/readyz").status_code == 200
        # when the primary stops
        pg_cluster.primary.stop("fast")
        response = client.get("/readyz")
        # then the backend is not ready, and says why
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["primary"]["status"] == "down"
        assert body["checks"]["primary"]["detail"]
        # and liveness is unaffected: the process still serves
        assert client.get("/healthz").status_code == 200
        # when it comes back, the backend is ready again
        pg_cluster.heal()
        assert client.get("/readyz").status_code == 200

    def test_redis_down_is_reported_but_does_not_fail_readiness(
        self, client, pg_cluster, redis_server
    ):
        redis_server.stop()
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"]["cache"]["status"] == "down"

    def test_a_stopped_replica_is_reported_but_does_not_fail_readiness(
        self, client, pg_cluster, redis_server
    ):
        pg_cluster.stop_replica(1)
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"]["replica_1"]["status"] == "down"


class TestRegistry:
    def test_other_modules_register_and_replace_checks(self, monkeypatch):
        # given a registry like the global one
        checks = ReadinessChecks()
        checks.register("cache_breaker", readiness.cache_breaker_unknown)
        checks.register("primary", lambda: {"primary": {"status": "ok"}}, critical=True)
        # when the cache module installs its breaker's check under the same name
        checks.register("cache_breaker", lambda: {"cache_breaker": {"status": "open"}})
        ready, report = checks.evaluate()
        # then it replaces the placeholder, and a non-critical problem keeps the backend ready
        assert ready is True
        assert report["cache_breaker"] == {"status": "open"}
        assert checks.names() == ["cache_breaker", "primary"]

    def test_a_failing_critical_check_makes_it_unready(self):
        checks = ReadinessChecks()
        checks.register("primary", lambda: {"primary": {"status": "down"}}, critical=True)
        assert checks.evaluate()[0] is False

    def test_a_check_that_raises_is_reported_down_not_a_500(self):
        def broken():
            raise RuntimeError("probe exploded")

        checks = ReadinessChecks()
        checks.register("search", broken, critical=True)
        ready, report = checks.evaluate()
        assert ready is False
        assert report == {"search": {"status": "down", "detail": "probe exploded"}}

    def test_the_global_registry_has_the_documented_checks(self):
        assert readiness.checks.names()[:4] == ["primary", "replicas", "cache", "cache_breaker"]
