"""The one client-IP resolver used by the throttles, the logs and the metrics.

``X-Forwarded-For`` is believed only as far as it was written by our own proxies: starting
from the socket peer (REMOTE_ADDR), each hop that is in ``TRUSTED_PROXIES`` hands us the
address it saw, read right to left; the first address that is *not* a trusted proxy is the
client. A client that forges the header only adds entries to its left, which are never read.
With no trusted proxies configured the header is ignored and the peer address is the client.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def trusted_networks() -> tuple[IPNetwork, ...]:
    return _networks(tuple(settings.TRUSTED_PROXIES))


# Pure functions of a header's text, asked on every throttled request: cached (a flood comes
# from few addresses; a scan of many only cycles the cache).
@lru_cache(maxsize=4096)
def _parse(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The client's address as a string (cached on the request)."""
    cached = getattr(request, "_client_ip", None)
    if cached is not None:
        return str(cached)
    resolved = _resolve(request)
    request._client_ip = resolved  # type: ignore[attr-defined]
    return resolved


def _resolve(request: HttpRequest) -> str:
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return "unknown"
    networks = trusted_networks()
    if not networks or not _is_trusted(peer, networks):
        return str(peer)
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # A malformed entry cannot be traced further: the last proxy's peer is the client.
            break
        if not _is_trusted(address, networks):
            return str(address)
        peer = address
    return str(peer)


def client_ip_bucket(request: HttpRequest) -> str:
    """The client's address for counting: IPv6 clients are grouped by their /64, since one
    customer line usually owns a whole /64 and could otherwise rotate addresses freely."""
    return _bucket(client_ip(request))


@lru_cache(maxsize=4096)
def _bucket(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return ip
