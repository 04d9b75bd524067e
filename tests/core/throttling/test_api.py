"""The throttles through the API, on the real Redis (no sleeping: the clock is injected)."""

import pytest

from bookings.models import Package
from core.throttling import limiter as limiter_module
from tests.conftest import PASSWORD, assert_error
from tests.core.throttling.conftest import decisions

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("throttling")]

PACKAGES = "/api/v1/packages/"
POSTS = "/api/v1/blog/posts/"
TOKEN = "/api/v1/auth/token/"


def get(client, path, ip, **headers):
    return client.get(path, REMOTE_ADDR=ip, **headers)


class TestAnonymousLimit:
    def test_exactly_100_per_minute_then_429(self, api_client, fresh_ip):
        statuses = [get(api_client, PACKAGES, fresh_ip).status_code for _ in range(105)]
        assert statuses.count(200) == 100
        assert statuses[100:] == [429] * 5

    def test_429_has_the_error_body_and_retry_after(self, api_client, fresh_ip, clock):
        for _ in range(100):
            get(api_client, PACKAGES, fresh_ip)
        clock.now += 15
        response = get(api_client, PACKAGES, fresh_ip)
        assert_error(response, 429, "throttled")
        assert response.headers["Retry-After"] == "45"
        assert response.headers["RateLimit-Policy"] == '"anon_60";q=100;w=60'
        assert response.headers["RateLimit"] == '"anon_60";r=0;t=45'

    def test_every_response_describes_the_tightest_limit(self, api_client, fresh_ip):
        first = get(api_client, PACKAGES, fresh_ip)
        assert first.headers["RateLimit-Policy"] == '"anon_60";q=100;w=60'
        assert first.headers["RateLimit"] == '"anon_60";r=99;t=60'
        get(api_client, PACKAGES, fresh_ip)
        assert get(api_client, PACKAGES, fresh_ip).headers["RateLimit"] == '"anon_60";r=97;t=60'

    def test_the_window_reopens(self, api_client, fresh_ip, clock):
        for _ in range(101):
            get(api_client, PACKAGES, fresh_ip)
        clock.now += 61
        assert get(api_client, PACKAGES, fresh_ip).status_code == 200

    def test_decisions_are_counted(self, api_client, fresh_ip):
        allowed, rejected = decisions("anon", "allowed"), decisions("anon", "rejected")
        for _ in range(102):
            get(api_client, PACKAGES, fresh_ip)
        assert decisions("anon", "allowed") - allowed == 100
        assert decisions("anon", "rejected") - rejected == 2


class TestClientIdentity:
    def test_forged_forwarded_for_is_still_one_bucket(self, api_client, fresh_ip):
        statuses = [
            get(
                api_client, PACKAGES, fresh_ip, HTTP_X_FORWARDED_FOR=f"10.9.{n // 250}.{n % 250}"
            ).status_code
            for n in range(101)
        ]
        assert statuses.count(200) == 100
        assert statuses[-1] == 429

    def test_behind_a_trusted_proxy_each_real_client_has_a_bucket(self, api_client, settings):
        settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
        for _ in range(100):
            get(api_client, PACKAGES, "127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.1")
        forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.1"}
        assert get(api_client, PACKAGES, "127.0.0.1", **forwarded).status_code == 429
        other = {"HTTP_X_FORWARDED_FOR": "203.0.113.2"}
        assert get(api_client, PACKAGES, "127.0.0.1", **other).status_code == 200

    def test_ipv6_addresses_in_one_64_share_a_bucket(self, api_client):
        for n in range(100):
            get(api_client, PACKAGES, f"2001:db8:7:7::{n + 1:x}")
        assert get(api_client, PACKAGES, "2001:db8:7:7:ffff::1").status_code == 429
        assert get(api_client, PACKAGES, "2001:db8:7:8::1").status_code == 200

    def test_users_are_limited_per_account_not_per_ip(self, customer_client, settings, fresh_ip):
        settings.THROTTLE_SCOPES = {
            **settings.THROTTLE_SCOPES,
            "user": {**settings.THROTTLE_SCOPES["user"], "rates": ["3/minute"]},
        }
        statuses = [get(customer_client, PACKAGES, f"198.51.99.{n}").status_code for n in range(4)]
        assert statuses == [200, 200, 200, 429]


class TestScopes:
    def test_search_has_its_own_tighter_limit(self, api_client, fresh_ip):
        searches = [get(api_client, f"{POSTS}?q=sauce", fresh_ip).status_code for _ in range(11)]
        assert searches == [200] * 10 + [429]
        # a rejected search drained nothing else: the plain list is still open
        assert get(api_client, POSTS, fresh_ip).status_code == 200

    def test_refused_requests_do_not_drain_the_sustained_quota(self, api_client, fresh_ip):
        for _ in range(30):
            get(api_client, f"{POSTS}?q=sauce", fresh_ip)  # 10 allowed, 20 refused
        response = get(api_client, PACKAGES, fresh_ip)
        # 10 searches + this request: the anon minute limit has 89 left, not 69
        assert response.headers["RateLimit"] == '"anon_60";r=89;t=60'

    def test_login_is_limited_per_account_across_ips(self, api_client, customer):
        body = {"email": customer.email, "password": "wrong-password"}
        statuses = [
            api_client.post(TOKEN, body, format="json", REMOTE_ADDR=f"203.0.113.{n}").status_code
            for n in range(6)
        ]
        assert statuses == [400] * 5 + [429]
        other = {"email": "someone@example.com", "password": PASSWORD}
        response = api_client.post(TOKEN, other, format="json", REMOTE_ADDR="203.0.113.50")
        assert response.status_code == 400

    def test_shadow_scope_counts_but_never_refuses(self, api_client, settings, fresh_ip):
        settings.THROTTLE_SHADOW_SCOPES = ["blog_list"]
        before = decisions("blog_list", "shadow_rejected")
        statuses = [get(api_client, POSTS, fresh_ip).status_code for _ in range(25)]
        assert statuses == [200] * 25
        assert decisions("blog_list", "shadow_rejected") - before == 5

    def test_admin_login_is_limited_too(self, client, staff_user):
        body = {"username": staff_user.email, "password": "wrong"}
        statuses = [
            client.post("/admin/login/", body, REMOTE_ADDR=f"203.0.113.{n}").status_code
            for n in range(6)
        ]
        assert statuses == [200] * 5 + [429]


class TestRedisDown:
    @pytest.fixture
    def redis_down(self, redis_server):
        redis_server.stop()
        yield
        redis_server.start()

    def test_reads_fail_open_to_a_per_process_limit(self, api_client, fresh_ip, redis_down):
        before = decisions("anon", "fail_open")
        statuses = [get(api_client, PACKAGES, fresh_ip).status_code for _ in range(101)]
        assert statuses.count(200) == 100  # still bounded, by this process
        assert statuses[-1] == 429
        assert decisions("anon", "fail_open") - before == 101

    def test_sensitive_scopes_fail_closed(self, api_client, customer_client, customer, redis_down):
        body = {"email": customer.email, "password": PASSWORD}
        response = api_client.post(TOKEN, body, format="json")
        assert_error(response, 503, "throttle_unavailable")
        assert response.headers["Retry-After"] == "5"
        payment = customer_client.post(
            "/api/v1/payments/",
            {"booking": 1, "kind": "deposit", "amount": 100},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k",
        )
        assert_error(payment, 503, "throttle_unavailable")

    def test_recovers_without_restart(self, api_client, customer, redis_server, monkeypatch):
        body = {"email": customer.email, "password": PASSWORD}
        redis_server.stop()
        assert api_client.post(TOKEN, body, format="json").status_code == 503
        redis_server.start()
        # the breaker's cool-down passes (its clock is injectable too)
        breaker = limiter_module.get_limiter().breaker
        monkeypatch.setattr(breaker, "timer", lambda: breaker._opened_at + 60)
        assert api_client.post(TOKEN, body, format="json").status_code == 200


def test_disabled_throttling_sends_no_headers(api_client, settings):
    settings.THROTTLE_ENABLED = False
    Package.objects.create(name="P", price_per_adult=1, price_per_child=1)
    response = api_client.get(PACKAGES)
    assert response.status_code == 200
    assert "RateLimit" not in response.headers
