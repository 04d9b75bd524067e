"""/metrics: who may read it, what format it speaks, and how requests are labelled."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from core.observability import metrics
from tests.conftest import assert_error
from tests.core.observability.conftest import parse_exposition, sample, series

OUTSIDER = "203.0.113.9"


class TestAccess:
    def test_loopback_may_read_it(self, client):
        # given the default METRICS_ALLOWED_NETWORKS (loopback), when the scrape comes from there
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
        # then it is the Prometheus text format
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        assert b"# TYPE http_requests_total counter" in response.content

    def test_ipv6_loopback_may_read_it(self, client):
        assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200

    def test_anyone_else_gets_403_with_the_error_body(self, client):
        response = client.get("/metrics", REMOTE_ADDR=OUTSIDER)
        body = assert_error(response, 403, "permission_denied")
        assert "metrics" in body["message"].lower()
        assert b"http_requests_total" not in response.content

    def test_a_valid_bearer_token_is_let_in_from_anywhere(self, client, settings):
        settings.METRICS_TOKEN = "s3cret-scrape-token"
        response = client.get(
            "/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token"
        )
        assert response.status_code == 200

    @pytest.mark.parametrize(
        "authorization",
        [
            "Bearer wrong-token",
            "Bearer s3cret-scrape-token-and-more",
            "Token s3cret-scrape-token",
            "Bearer ",
            "s3cret-scrape-token",
        ],
    )
    def test_a_wrong_token_or_scheme_is_refused(self, client, settings, authorization):
        settings.METRICS_TOKEN = "s3cret-scrape-token"
        response = client.get("/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION=authorization)
        assert_error(response, 403, "permission_denied")

    def test_no_token_configured_means_no_token_is_valid(self, client, settings):
        settings.METRICS_TOKEN = None
        response = client.get("/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION="Bearer ")
        assert response.status_code == 403

    def test_the_allowed_networks_are_configurable(self, client, settings):
        settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
        assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403

    def test_behind_a_trusted_proxy_the_real_client_is_checked(self, client, settings):
        # given nginx on loopback is a trusted proxy
        settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
        # when an outside client comes through it, it is refused although the peer is loopback
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDER)
        assert response.status_code == 403
        # and a forged X-Forwarded-For from outside does not make anyone an insider
        forged = client.get("/metrics", REMOTE_ADDR=OUTSIDER, HTTP_X_FORWARDED_FOR="127.0.0.1")
        assert forged.status_code == 403

    def test_only_get(self, client):
        assert client.post("/metrics").status_code == 405

    def test_invalid_networks_fail_the_system_checks(self, settings):
        settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8", "not-a-network"]
        errors = [e for e in run_checks() if e.id == "observability.E001"]
        assert len(errors) == 1 and "not-a-network" in errors[0].msg


def test_openmetrics_is_served_when_asked_for(client):
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


class TestRequestLabels:
    @pytest.mark.django_db
    def test_endpoint_is_the_route_pattern_not_the_path(self, client, scrape):
        # given two requests for different posts
        route = "/api/v1/blog/posts/<slug:slug>/"
        before = sample(
            "http_requests_total", {"method": "GET", "endpoint": route, "status": "404"}
        )
        client.get("/api/v1/blog/posts/no-such-post/")
        client.get("/api/v1/blog/posts/another-missing-one/")
        # then one series counts both, and no series carries a slug
        scraped = scrape()
        assert (
            series(scraped, "http_requests_total", method="GET", endpoint=route, status="404")
            == before + 2
        )
        endpoints = {dict(labels).get("endpoint") for _, labels in scraped}
        assert not any("no-such-post" in (e or "") for e in endpoints)

    def test_unmatched_paths_share_one_label(self, client):
        before = sample(
            "http_requests_total", {"method": "GET", "endpoint": "<unmatched>", "status": "404"}
        )
        for path in ("/wp-login.php", "/.env", "/nope/nope/nope"):
            client.get(path)
        after = sample(
            "http_requests_total", {"method": "GET", "endpoint": "<unmatched>", "status": "404"}
        )
        assert after == before + 3

    def test_static_files_share_one_label(self, client):
        before = sample(
            "http_requests_total", {"method": "GET", "endpoint": "<static>", "status": "404"}
        )
        client.get("/static/no/such/file.css")
        assert (
            sample(
                "http_requests_total", {"method": "GET", "endpoint": "<static>", "status": "404"}
            )
            == before + 1
        )

    def test_unknown_methods_are_one_label(self, client):
        before = sample(
            "http_requests_total", {"method": "other", "endpoint": "/healthz", "status": "405"}
        )
        client.generic("BREW", "/healthz")
        after = sample(
            "http_requests_total", {"method": "other", "endpoint": "/healthz", "status": "405"}
        )
        assert after == before + 1

    def test_duration_is_observed_per_endpoint(self, client):
        labels = {"method": "GET", "endpoint": "/healthz"}
        before = sample("http_request_duration_seconds_count", labels)
        client.get("/healthz")
        assert sample("http_request_duration_seconds_count", labels) == before + 1
        assert sample("http_request_duration_seconds_bucket", {**labels, "le": "2.0"}) >= 1

    def test_django_prometheus_metrics_are_exported_too(self, client, scrape):
        client.get("/healthz")
        names = {name for name, _ in scrape()}
        assert "django_http_requests_total_by_method_total" in names
        assert "django_http_responses_total_by_status_total" in names


class TestCatalogue:
    def test_every_seed_metric_is_exported_under_its_name(self):
        required = {
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "db_query_duration_seconds_bucket",
            "db_connection_pool_size",
            "cache_hit_rate",
            "blog_posts_created_total",
            "user_reviews_submitted_total",
            "bookings_created_total",
            "payments_total",
            "db_replica_lag_seconds",
            "db_router_reads_total",
            "db_router_fallbacks_total",
            "throttle_decisions_total",
            "cache_breaker_open",
        }
        assert required <= metrics.exported_series()

    def test_labels_are_the_issues(self):
        def labelnames(metric) -> tuple[str, ...]:
            return tuple(metric._labelnames)

        assert labelnames(metrics.http_requests) == ("method", "endpoint", "status")
        assert labelnames(metrics.payments) == ("provider", "status")
        assert labelnames(metrics.throttle_decisions) == ("scope", "decision")
        assert labelnames(metrics.db_router_reads) == ("alias",)
        assert labelnames(metrics.db_router_fallbacks) == ("reason",)
        assert labelnames(metrics.db_replica_lag) == ("alias",)
        assert labelnames(metrics.db_connection_pool_size) == ("alias",)

    def test_what_the_catalogue_lists_is_what_metrics_exports(self, client):
        # given every labelled metric has a child, so that it appears on /metrics
        metrics.record_cache_lookup("catalogue-check", hit=True)
        metrics.record_cache_lookup("catalogue-check", hit=False)
        client.get("/healthz")
        scraped = {name for name, _ in parse_exposition(client.get("/metrics").content.decode())}
        for metric in metrics.application_metrics():
            if metric._labelnames and not metric._metrics:
                continue  # no child yet: nothing to export
            assert any(name.startswith(metric._name) for name in scraped), metric._name


class TestCacheAndThrottleApi:
    def test_cache_lookups_move_the_counters_and_the_hit_rate(self, scrape):
        # given three hits and one miss of a dataset
        for hit in (True, True, True, False):
            metrics.record_cache_lookup("test_hit_rate_dataset", hit=hit)
        # then /metrics shows them and the derived hit rate
        scraped = scrape()
        assert series(scraped, "cache_hits_total", dataset="test_hit_rate_dataset") == 3
        assert series(scraped, "cache_misses_total", dataset="test_hit_rate_dataset") == 1
        assert series(scraped, "cache_hit_rate", dataset="test_hit_rate_dataset") == 0.75

    def test_breaker_state(self, scrape):
        metrics.set_cache_breaker_open(True)
        assert series(scrape(), "cache_breaker_open") == 1
        metrics.set_cache_breaker_open(False)
        assert series(scrape(), "cache_breaker_open") == 0

    def test_throttle_decisions(self, scrape):
        before = sample("throttle_decisions_total", {"scope": "anon", "decision": "rejected"})
        metrics.record_throttle_decision("anon", "rejected")
        assert (
            series(scrape(), "throttle_decisions_total", scope="anon", decision="rejected")
            == before + 1
        )


@pytest.mark.servers
class TestEventsOnTheRealServers:
    @pytest.mark.django_db
    def test_a_throttle_rejection_shows_on_metrics(self, client, settings, redis_server, scrape):
        # given throttling on, counting in Redis
        settings.THROTTLE_ENABLED = True
        settings.THROTTLE_REDIS_URL = redis_server.url
        rejected = {"scope": "anon", "decision": "rejected"}
        too_many = {"method": "GET", "endpoint": "/api/v1/packages/", "status": "429"}
        before = scrape()
        # when one address sends more than the anonymous limit (100/minute)
        statuses = []
        for _ in range(250):
            statuses.append(
                client.get("/api/v1/packages/", REMOTE_ADDR="198.51.100.250").status_code
            )
            if statuses[-1] == 429:
                break
        # then the rejection is counted twice over: by the throttle and by the HTTP metrics
        assert statuses[-1] == 429
        after = scrape()
        assert (
            series(after, "throttle_decisions_total", **rejected)
            == series(before, "throttle_decisions_total", **rejected) + 1
        )
        assert (
            series(after, "http_requests_total", **too_many)
            == series(before, "http_requests_total", **too_many) + 1
        )

    def test_the_configured_redis_cache_backend_counts_hits_and_misses(self, redis_server):
        from django_prometheus.cache.backends.redis import RedisCache

        # given the cache backend config/settings/base.py uses when REDIS_URL is set
        cache = RedisCache(redis_server.url, {"KEY_PREFIX": "observability-test"})
        labels = {"backend": "redis"}
        hits, misses = (
            sample("django_cache_get_hits_total", labels),
            sample("django_cache_get_misses_total", labels),
        )
        # when one key is missed, then stored and found
        assert cache.get("menu") is None
        cache.set("menu", {"dishes": 12}, 30)
        assert cache.get("menu") == {"dishes": 12}
        # then both are counted
        assert sample("django_cache_get_misses_total", labels) == misses + 1
        assert sample("django_cache_get_hits_total", labels) == hits + 1
