import pytest
from django.test import RequestFactory

from core.http.client_ip import client_ip, client_ip_bucket

NGINX = "10.0.0.5"


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_ip(request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


class TestBehindTrustedProxies:
    @pytest.fixture(autouse=True)
    def _trust_nginx(self, settings):
        settings.TRUSTED_PROXIES = ["10.0.0.0/24"]

    def test_takes_the_address_nginx_saw(self):
        assert client_ip(request(NGINX, "198.51.100.7")) == "198.51.100.7"

    def test_forged_entries_left_of_the_real_one_change_nothing(self):
        # the client sent "X-Forwarded-For: 1.1.1.1"; nginx appended what it saw
        assert client_ip(request(NGINX, "1.1.1.1, 198.51.100.7")) == "198.51.100.7"

    def test_trusted_hops_are_skipped_right_to_left(self):
        assert client_ip(request(NGINX, "198.51.100.7, 10.0.0.9")) == "198.51.100.7"

    def test_a_direct_client_cannot_forge_the_header(self):
        assert client_ip(request("203.0.113.9", "1.1.1.1")) == "203.0.113.9"

    @pytest.mark.parametrize("header", ["", "garbage", "not-an-ip, ###"])
    def test_unreadable_headers_fall_back_to_the_proxy(self, header):
        assert client_ip(request(NGINX, header)) == NGINX

    def test_ports_and_mapped_addresses_are_normalised(self):
        assert client_ip(request(NGINX, "198.51.100.7:4431")) == "198.51.100.7"
        assert client_ip(request(NGINX, "[2001:db8::1]:443")) == "2001:db8::1"
        assert client_ip(request("::ffff:198.51.100.7")) == "198.51.100.7"


def test_ipv6_clients_are_bucketed_by_64():
    first = client_ip_bucket(request("2001:db8:1:2::1"))
    second = client_ip_bucket(request("2001:db8:1:2:ffff::9"))
    other = client_ip_bucket(request("2001:db8:1:3::1"))
    assert first == second == "2001:db8:1:2::/64"
    assert other != first
    assert client_ip_bucket(request("198.51.100.7")) == "198.51.100.7"
