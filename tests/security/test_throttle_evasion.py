"""Forged client addresses do not buy a fresh rate-limit bucket (on the real Redis).

tests/core/throttling covers a forged ``X-Forwarded-For`` with no trusted proxy and IPv6 /64s;
these are the other ways a client tries to look like many: forged hops in front of a real
proxy's entry, the other client-IP headers, the IPv4-mapped IPv6 form of its address, and a
login spray across accounts.
"""

import pytest

from tests.conftest import assert_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("throttling")]

PACKAGES = "/api/v1/packages/"
TOKEN = "/api/v1/auth/token/"
ANON_PER_MINUTE = 100


def statuses(client, count: int, request) -> list[int]:
    """Status of ``count`` GETs, the n-th sent with the request headers ``request(n)``."""
    return [client.get(PACKAGES, **request(n)).status_code for n in range(count)]


def test_forged_hops_before_our_proxys_entry_are_ignored(api_client, settings):
    # given nginx on loopback is trusted, and appends the address it saw (203.0.113.7)
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
    # when that client writes a different address of its own in front, on every request
    answers = [
        api_client.get(
            PACKAGES,
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.{n % 250}.0.1, 127.0.0.5, 203.0.113.7",
        ).status_code
        for n in range(ANON_PER_MINUTE + 1)
    ]
    # then every request counts against 203.0.113.7: one bucket, refused past the limit
    assert answers.count(200) == ANON_PER_MINUTE
    assert answers[-1] == 429


@pytest.mark.parametrize(
    "header",
    [
        "HTTP_X_REAL_IP",
        "HTTP_FORWARDED",
        "HTTP_TRUE_CLIENT_IP",
        "HTTP_CF_CONNECTING_IP",
        "HTTP_X_CLIENT_IP",
        "HTTP_X_CLUSTER_CLIENT_IP",
    ],
)
def test_other_client_ip_headers_are_ignored(api_client, fresh_ip, header):
    # when a client sends a different address in another well-known header on every request
    def forged(n: int) -> dict[str, str]:
        value = f"10.1.{n // 250}.{n % 250}"
        return {"REMOTE_ADDR": fresh_ip, header: f"for={value}" if "FORWARDED" in header else value}

    answers = statuses(api_client, ANON_PER_MINUTE + 1, request=forged)
    # then its real address is the only bucket
    assert answers.count(200) == ANON_PER_MINUTE
    assert answers[-1] == 429


def test_the_ipv4_mapped_form_of_an_address_is_the_same_client(api_client):
    # when one IPv4 client alternates its plain and IPv4-mapped IPv6 spellings
    def spelled(n: int) -> dict[str, str]:
        return {"REMOTE_ADDR": "198.51.100.77" if n % 2 else "::ffff:198.51.100.77"}

    answers = statuses(api_client, ANON_PER_MINUTE + 1, request=spelled)
    # then both count in one bucket
    assert answers.count(200) == ANON_PER_MINUTE
    assert answers[-1] == 429


def test_a_login_spray_across_accounts_is_limited_per_ip(api_client, fresh_ip):
    # given the login limit per address (login_ip: 20/minute)
    # when one address tries a different account each time, forging X-Forwarded-For too
    answers = [
        api_client.post(
            TOKEN,
            {"email": f"victim{n}@example.com", "password": "Summer2026!"},
            format="json",
            REMOTE_ADDR=fresh_ip,
            HTTP_X_FORWARDED_FOR=f"10.2.0.{n}",
        )
        for n in range(21)
    ]
    # then it gets 20 tries, not one per account or per forged address
    assert [r.status_code for r in answers] == [400] * 20 + [429]
    assert_error(answers[-1], 429, "throttled")
    assert int(answers[-1]["Retry-After"]) > 0
