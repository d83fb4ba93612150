"""Webhook rules: which events a subscription matches, how a delivery is signed, when to retry."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
from datetime import timedelta
from urllib.parse import urlsplit

__all__ = [
    "DISABLE_AFTER",
    "EVENT_TYPES",
    "MAX_ATTEMPTS",
    "NonPublicAddress",
    "PatternError",
    "UrlError",
    "backoff",
    "blocked_address",
    "check_host",
    "failure_text",
    "matches",
    "parse_patterns",
    "parse_url",
    "sign",
    "verify",
]

#: Every event a webhook can receive.
EVENT_TYPES = (
    "task.created", "task.updated", "task.completed", "task.uncompleted", "task.deleted",
    "reminder.fired",
)
FAMILIES = ("task", "reminder")
#: A delivery is given up after this many attempts (about an hour and a half of backoff).
MAX_ATTEMPTS = 12
#: Failed attempts in a row (across the webhook's deliveries) after which it is switched off.
DISABLE_AFTER = 10
BACKOFF_BASE = timedelta(seconds=1)
BACKOFF_CAP = timedelta(minutes=30)


class PatternError(ValueError):
    pass


class UrlError(ValueError):
    pass


def parse_patterns(value: object) -> list[str]:
    """A non-empty list of `task.*`, `reminder.*`, `*` or exact event names; de-duplicated, in order."""
    if not isinstance(value, list) or not value:
        raise PatternError("must be a non-empty list such as [\"task.*\", \"reminder.fired\"]")
    result: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise PatternError(f"each pattern must be a string, got {item!r}")
        pattern = item.strip().lower()
        family, _, name = pattern.partition(".")
        valid = pattern == "*" or pattern in EVENT_TYPES or (family in FAMILIES and name == "*")
        if not valid:
            raise PatternError(
                f"{item!r} is not an event pattern; use *, task.*, reminder.* or one of {', '.join(EVENT_TYPES)}"
            )
        if pattern not in result:
            result.append(pattern)
    return result


def matches(patterns: list[str], event_type: str) -> bool:
    family = event_type.partition(".")[0]
    return "*" in patterns or event_type in patterns or f"{family}.*" in patterns


def patterns_for(event_type: str) -> list[str]:
    """The patterns that match `event_type` (for a database `&&` test)."""
    return ["*", event_type, f"{event_type.partition('.')[0]}.*"]


def parse_url(value: object) -> str:
    if not isinstance(value, str):
        raise UrlError("must be an http:// or https:// URL string")
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number from 0 to 65535)
    except ValueError as exc:
        raise UrlError(f"is not a valid URL ({exc}): {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlError(f"must be an absolute http:// or https:// URL, got {value!r}")
    if parts.username or parts.password:
        raise UrlError("must not carry credentials; the signature authenticates deliveries")
    if len(url) > 2000:
        raise UrlError("must be at most 2000 characters")
    return url


#: Names that always mean this machine (a literal-address check would miss them).
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
ALLOW_PRIVATE_HINT = "set WEBHOOK_ALLOW_PRIVATE=true to allow it (local development only)"


def blocked_address(address: str) -> str | None:
    """Why a webhook must not be delivered to this IP address (None when it is a public one).

    Loopback, private, link-local (cloud metadata at 169.254.169.254), shared, multicast and reserved
    ranges would let a user make the workers reach inside their own network (SSRF).
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return None
    kind = ("loopback" if ip.is_loopback else "link-local" if ip.is_link_local else
            "private" if ip.is_private else "multicast" if ip.is_multicast else "non-public")
    return f"{ip} is a {kind} address"


def check_host(url: str) -> None:
    """Refuse a URL whose host is this machine or a non-public IP literal (names are checked when
    they are resolved, at each delivery: what a name points at can change)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise UrlError(f"must not point at this machine ({host}); {ALLOW_PRIVATE_HINT}")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name
    reason = blocked_address(host)
    if reason is not None:
        raise UrlError(f"must point at a public address: {reason}; {ALLOW_PRIVATE_HINT}")


class NonPublicAddress(OSError):
    """A webhook's host name resolved only to addresses blocked_address refuses (raised while connecting)."""


def failure_text(exc: BaseException) -> str:
    """What a failed delivery attempt shows its owner. A refusal by address says only that: the
    addresses a name resolved to inside the network are not the webhook owner's to learn."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, NonPublicAddress):
            return f"refused: resolves to a non-public address; {ALLOW_PRIVATE_HINT}"
        cause = cause.__cause__ or getattr(cause, "os_error", None)
    return f"{type(exc).__name__}: {exc}"


def sign(secret: str, body: bytes) -> str:
    """The X-Taskstream-Signature value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), header or "")


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Wait before attempt `attempts + 1`: exponential with full jitter, between half and all of
    base * 2^(attempts-1), capped. Jitter keeps a recovering receiver from being hit by every retry at once."""
    rng = rng or random
    ceiling = min(BACKOFF_CAP.total_seconds(), BACKOFF_BASE.total_seconds() * 2 ** max(0, attempts - 1))
    return timedelta(seconds=ceiling * (0.5 + rng.random() / 2))
