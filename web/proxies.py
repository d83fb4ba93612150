"""Which proxies to believe: a request's X-Forwarded-* headers count only when its peer is in TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress
import re
from typing import Iterable, Mapping

from streams.settings import IpNetwork

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: What a proxy may name as the public host: a DNS name or an address, with an optional port.
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")


def hop(value: str) -> IpAddress | None:
    """An address from a peer or X-Forwarded-For entry, tolerating a port (`1.2.3.4:5`, `[::1]:5`)."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_trusted(address: IpAddress | None, trusted: tuple[IpNetwork, ...]) -> bool:
    return address is not None and any(address in network for network in trusted)


def forwarded_client(peer: str | None, forwarded_for: Iterable[str],
                     trusted: tuple[IpNetwork, ...]) -> IpAddress | None:
    """The address a request came from (None when the peer is not an address).

    X-Forwarded-For counts only when the peer is a trusted proxy; then the rightmost entry that is
    not itself a trusted proxy is the client (entries further left are whatever the client claimed).
    """
    address = hop(peer or "")
    if is_trusted(address, trusted):
        hops = [entry for header in forwarded_for for entry in header.split(",") if entry.strip()]
        for entry in reversed(hops):
            found = hop(entry)
            if found is None:
                break  # garbage from further left: keep the last address a trusted proxy vouched for
            address = found
            if not is_trusted(found, trusted):
                break
    return address


def public_origin(peer: str | None, headers: Mapping[str, str], trusted: tuple[IpNetwork, ...], *, scheme: str, host: str) -> str:
    """`scheme://host` as the client addressed this server: this connection's own, or, from a trusted
    proxy, what its X-Forwarded-Proto and X-Forwarded-Host say (the first entry, the one the client used)."""
    if is_trusted(hop(peer or ""), trusted):
        proto = headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        forwarded_host = headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        if proto in ("http", "https"):
            scheme = proto
        if _HOST.match(forwarded_host):
            host = forwarded_host
    return f"{scheme}://{host}"
