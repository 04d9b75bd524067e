"""Who may read ``/metrics``: operators' networks, or whoever holds the metrics token.

``METRICS_ALLOWED_NETWORKS`` (CIDRs, loopback by default) is matched against the client IP from
the shared resolver (``core.http.client_ip``), so behind nginx it is the real client only when
``TRUSTED_PROXIES`` names nginx; otherwise every proxied request has nginx's address. nginx
therefore does not proxy ``/metrics`` at all: Prometheus scrapes the backends directly.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from core.http.client_ip import client_ip

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """``("10.0.0.0/8", "::1")`` as networks; a malformed entry is a configuration error."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_NETWORKS: {cidr!r} is not an IP network (CIDR)."
            ) from None
    return tuple(networks)


def allowed_networks() -> tuple[IPNetwork, ...]:
    return parse_networks(tuple(settings.METRICS_ALLOWED_NETWORKS))


def from_allowed_network(request: HttpRequest) -> bool:
    """True when the client's address is in ``METRICS_ALLOWED_NETWORKS``."""
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in allowed_networks())


def has_metrics_token(request: HttpRequest) -> bool:
    """True when ``Authorization: Bearer <METRICS_TOKEN>`` is sent and a token is configured.

    Compared in constant time over digests, so neither the token's bytes nor its length leak.
    """
    expected = settings.METRICS_TOKEN
    if not expected:
        return False
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return False
    presented = hashlib.sha256(credentials.strip().encode()).digest()
    return hmac.compare_digest(presented, hashlib.sha256(expected.encode()).digest())


def may_read_metrics(request: HttpRequest) -> bool:
    return has_metrics_token(request) or from_allowed_network(request)
