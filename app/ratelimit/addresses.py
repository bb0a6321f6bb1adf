"""Which address a request comes from, for the budget of callers without a valid token.

The socket peer, unless the peer is a proxy listed in TRUSTED_PROXIES: then the
X-Forwarded-For chain is read from the right (each trusted proxy appends the address it
saw) and the first address not itself a trusted proxy is the client. Everything left of
that point was written by the client and proves nothing. An IPv6 client is budgeted by
its /64, the block one subscriber normally gets, so that it cannot mint fresh budgets by
walking its own addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from app.core.networks import IPAddress, IPNetwork

UNKNOWN = "ip:unknown"


def _address(value: str) -> IPAddress | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]  # "[2001:db8::1]:443"
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]  # "192.0.2.1:443"
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[IPNetwork]
) -> IPAddress | None:
    """The client's address; `forwarded_for` holds every X-Forwarded-For header in order."""
    address = _address(peer) if peer else None
    if address is None or not _trusted(address, proxies):
        return address
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        candidate = _address(hop)
        if candidate is None:
            # Garbage where a trusted proxy would have written an address: the client
            # wrote it. The last trusted hop is the best we know.
            return address
        address = candidate
        if not _trusted(address, proxies):
            return address
    return address


def address_key(address: IPAddress | None) -> str:
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        return f"ip:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"ip:{address}"
