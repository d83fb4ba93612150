"""Token-bucket rate limits per user and per client address, kept in memory or shared through PostgreSQL."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

from sqlalchemy import exc as sa_exc

from streams.settings import IpNetwork, RateLimit, RateLimits

from . import proxies
from .errors import ApiError

log = logging.getLogger("taskstream.ratelimit")

Clock = Callable[[], float]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Kubernetes probes: a throttled liveness probe would restart a healthy pod.
EXEMPT_PATHS = frozenset({"/health", "/ready"})
#: One IPv6 host usually owns a whole /64: limiting single addresses there would limit nothing.
IPV6_PREFIX = 64


@dataclass(frozen=True)
class Decision:
    """The outcome of one request against one bucket, in the units the response headers use."""

    name: str
    limit: RateLimit
    allowed: bool
    tokens: float  # left after this request

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.tokens))

    @property
    def reset(self) -> int:
        """Whole seconds until the bucket is full again."""
        return max(0, math.ceil((self.limit.burst - self.tokens) / self.limit.rate))

    @property
    def retry_after(self) -> int:
        """Whole seconds (at least 1) until one request fits again; 0 when this one was allowed."""
        if self.allowed:
            return 0
        return max(1, math.ceil((1 - self.tokens) / self.limit.rate))


def take(tokens: float, elapsed: float, limit: RateLimit) -> tuple[float, bool]:
    """Refill a bucket that held `tokens` `elapsed` seconds ago and take one token if there is one."""
    refilled = min(float(limit.burst), tokens + max(0.0, elapsed) * limit.rate)
    if refilled >= 1:
        return refilled - 1, True
    return refilled, False


class MemoryStore:
    """Buckets in this process. Bounded: a bucket idle long enough to be full again is the same as no
    bucket and is dropped; past `max_buckets` the least recently used go first (their clients merely
    start over with a full bucket), so clients with ever new addresses cannot grow memory."""

    def __init__(self, *, clock: Clock = time.monotonic, max_buckets: int = 100_000) -> None:
        self.clock = clock
        self.max_buckets = max_buckets
        # key -> (tokens, updated_at, full_at); ordered by last use, oldest first.
        self._buckets: OrderedDict[str, tuple[float, float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, key: str, limit: RateLimit) -> tuple[float, bool]:
        return self.take_now(key, limit)

    def take_now(self, key: str, limit: RateLimit) -> tuple[float, bool]:
        now = self.clock()
        tokens, updated_at, _ = self._buckets.pop(key, (float(limit.burst), now, now))
        tokens, allowed = take(tokens, now - updated_at, limit)
        self._buckets[key] = (tokens, now, now + (limit.burst - tokens) / limit.rate)
        self._forget_idle(now)
        return tokens, allowed

    def _forget_idle(self, now: float, at_most: int = 8) -> None:
        # A few per request from the least recently used end keeps this O(1) per request.
        for _ in range(at_most):
            oldest = next(iter(self._buckets.items()), None)
            if oldest is None or oldest[1][2] > now:
                break
            self._buckets.popitem(last=False)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)


class PostgresStore:
    """Buckets in the UNLOGGED rate_limits table, shared by every worker on the database.

    Fails open: while PostgreSQL is unreachable requests pass unthrottled (with a warning), since
    every request that needs the database fails with 503 anyway and the dashboard's files and metrics
    should not. After a failure it leaves the database alone for RETRY_SECONDS, so requests do not each
    wait out a connect timeout first."""

    SWEEP_SECONDS = 60.0
    WARN_SECONDS = 30.0
    RETRY_SECONDS = 5.0

    def __init__(self, database: Callable[[], object], *, idle_seconds: float, clock: Clock = time.monotonic):
        self._database = database
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._next_sweep = 0.0
        self._next_warning = 0.0
        self._unavailable_until = 0.0

    async def take(self, key: str, limit: RateLimit) -> tuple[float, bool]:
        from db import rate_limits

        if self.clock() < self._unavailable_until:
            return float(limit.burst), True
        try:
            async with self._database().autocommit() as session:
                result = await rate_limits.take(session, key, rate=limit.rate, burst=limit.burst)
                if self.clock() >= self._next_sweep:
                    self._next_sweep = self.clock() + self.SWEEP_SECONDS
                    await rate_limits.forget_idle(session, idle_seconds=self.idle_seconds)
                return result
        except (sa_exc.SQLAlchemyError, OSError, asyncio.TimeoutError) as exc:
            self._unavailable_until = self.clock() + self.RETRY_SECONDS
            if self.clock() >= self._next_warning:
                self._next_warning = self.clock() + self.WARN_SECONDS
                log.warning("rate limits unavailable (%s: PostgreSQL did not answer); letting requests through "
                            "unthrottled until it does", type(exc).__name__)
            return float(limit.burst), True


Store = MemoryStore | PostgresStore


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[IpNetwork, ...]) -> str:
    """The address a request came from (see proxies.forwarded_client), as a bucket key."""
    address = proxies.forwarded_client(peer, forwarded_for, trusted)
    if address is None:
        return peer or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def headers(decisions: list[Decision]) -> dict[str, str]:
    """IETF draft RateLimit headers: the bucket closest to empty, and every policy that applied."""
    if not decisions:
        return {}
    tightest = min(decisions, key=lambda d: (d.allowed, d.tokens / d.limit.burst))
    result = {
        "RateLimit-Limit": str(tightest.limit.burst),
        "RateLimit-Remaining": str(tightest.remaining),
        "RateLimit-Reset": str(tightest.reset),
        "RateLimit-Policy": _policy(tuple((d.name, d.limit) for d in decisions)),
    }
    if not tightest.allowed:
        result["Retry-After"] = str(tightest.retry_after)
    return result


@lru_cache(maxsize=64)
def _policy(limits: tuple[tuple[str, RateLimit], ...]) -> str:
    """The RateLimit-Policy header for these buckets (the same few combinations on every request)."""
    return ", ".join(f'{limit.burst};w={limit.window};name="{name}"' for name, limit in limits)


_WHAT = {"writes": "writes for this user", "reads": "reads for this user", "address": "requests from this address"}


def rejection(decision: Decision, decisions: list[Decision]) -> ApiError:
    limit = decision.limit
    return ApiError(
        429, "rate_limited",
        f"too many {_WHAT[decision.name]} (at most {limit.burst} at once, then {limit.rate:g} a second); "
        f"retry in {decision.retry_after} s",
        {"limit": decision.name, "retry_after": decision.retry_after},
        headers=headers(decisions),
    )


class RateLimiter:
    """Checks a request against its buckets; each check either records its decision or raises 429."""

    def __init__(self, limits: RateLimits, store: Store) -> None:
        self.limits, self.store = limits, store
        # The memory store answers without waiting: skip its coroutine on every request.
        self._take_now = store.take_now if isinstance(store, MemoryStore) else None

    async def _check(self, name: str, key: str, decisions: list[Decision]) -> None:
        limit: RateLimit = getattr(self.limits, name)
        if self._take_now is not None:
            tokens, allowed = self._take_now(key, limit)
        else:
            tokens, allowed = await self.store.take(key, limit)
        decision = Decision(name, limit, allowed, tokens)
        decisions.append(decision)
        if not allowed:
            raise rejection(decision, decisions)

    async def check_address(self, address: str, decisions: list[Decision]) -> None:
        await self._check("address", f"address:{address}", decisions)

    async def check_user(self, user_id: str, method: str, decisions: list[Decision]) -> None:
        name = "writes" if method in WRITE_METHODS else "reads"
        await self._check(name, f"{name}:{user_id}", decisions)


def make_store(kind: str, limits: RateLimits, database: Callable[[], object] | None = None,
               clock: Clock = time.monotonic) -> Store:
    """The store RATE_LIMIT_STORE names; `database` returns the database handle (the postgres store asks
    for it on every use, so the handle may be created after the store)."""
    if kind == "postgres":
        if database is None:
            raise ValueError("the postgres rate-limit store needs a database accessor")
        idle = max(limit.burst / limit.rate for limit in (limits.writes, limits.reads, limits.address))
        return PostgresStore(database, idle_seconds=idle, clock=clock)
    return MemoryStore(clock=clock)
