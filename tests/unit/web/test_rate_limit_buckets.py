"""Token-bucket maths, the bounded memory store, client addresses and the RateLimit headers, on a fake clock."""

from __future__ import annotations

import ipaddress

import pytest

from streams.settings import RateLimit
from web.ratelimit import Decision, MemoryStore, PostgresStore, client_address, headers, take

WRITES = RateLimit(rate=10, burst=100)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def burst(store: MemoryStore, key: str, limit: RateLimit, count: int) -> list[bool]:
    return [store.take_now(key, limit)[1] for _ in range(count)]


def test_a_full_bucket_allows_its_burst_then_refuses_until_it_refills():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    assert burst(store, "w:alice", WRITES, 100) == [True] * 100
    tokens, allowed = store.take_now("w:alice", WRITES)
    assert not allowed and tokens == 0
    clock.advance(0.099)
    assert not store.take_now("w:alice", WRITES)[1], "not a whole token yet"
    clock.advance(0.001)
    assert store.take_now("w:alice", WRITES)[1], "one token after 1/rate seconds"
    assert not store.take_now("w:alice", WRITES)[1]


def test_sustained_rate_is_the_refill_rate():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    burst(store, "w:alice", WRITES, 100)
    allowed = 0
    for _ in range(1280):  # 10 s of one attempt every 1/128 s (exact in binary floating point)
        clock.advance(1 / 128)
        allowed += store.take_now("w:alice", WRITES)[1]
    assert allowed == 100


def test_a_bucket_never_holds_more_than_its_burst():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    store.take_now("w:alice", WRITES)
    clock.advance(3600)
    assert burst(store, "w:alice", WRITES, 101) == [True] * 100 + [False]


def test_buckets_are_independent_per_key():
    store = MemoryStore(clock=FakeClock())
    burst(store, "w:alice", WRITES, 100)
    assert not store.take_now("w:alice", WRITES)[1]
    assert store.take_now("w:bob", WRITES)[1]


def test_the_pure_take_refills_and_ignores_a_clock_going_backwards():
    assert take(0.0, 0.25, WRITES) == (1.5, True)
    assert take(0.5, 0.0, WRITES) == (0.5, False)
    assert take(0.5, -5.0, WRITES) == (0.5, False)
    assert take(99.5, 10.0, WRITES) == (99.0, True)


def test_decisions_in_header_units():
    refused = Decision("writes", WRITES, allowed=False, tokens=0.3)
    assert (refused.remaining, refused.retry_after, refused.reset) == (0, 1, 10)
    slow = Decision("writes", RateLimit(rate=1 / 60, burst=5), allowed=False, tokens=0.5)
    assert slow.retry_after == 30
    allowed = Decision("writes", WRITES, allowed=True, tokens=42.7)
    assert (allowed.remaining, allowed.retry_after, allowed.reset) == (42, 0, 6)
    assert Decision("writes", WRITES, allowed=True, tokens=100.0).reset == 0


def test_headers_report_the_tightest_bucket_and_every_policy():
    address = Decision("address", RateLimit(60, 400), allowed=True, tokens=390.0)
    writes = Decision("writes", WRITES, allowed=True, tokens=5.0)
    result = headers([address, writes])
    assert result == {
        "RateLimit-Limit": "100", "RateLimit-Remaining": "5", "RateLimit-Reset": "10",
        "RateLimit-Policy": '400;w=7;name="address", 100;w=10;name="writes"',
    }
    refused = headers([address, Decision("writes", WRITES, allowed=False, tokens=0.0)])
    assert refused["Retry-After"] == "1" and refused["RateLimit-Remaining"] == "0"
    assert headers([]) == {}


def test_idle_buckets_are_forgotten_once_they_would_be_full_again():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    for n in range(50):
        store.take_now(f"address:10.0.0.{n}", WRITES)
    assert len(store) == 50
    clock.advance(0.1)  # refilled 1 token: full again
    store.take_now("address:192.0.2.1", WRITES)
    store.take_now("address:192.0.2.1", WRITES)
    assert len(store) < 50


def test_memory_is_bounded_however_many_addresses_a_client_uses():
    clock = FakeClock()
    store = MemoryStore(clock=clock, max_buckets=1000)
    slow = RateLimit(rate=0.001, burst=10)  # never refills within the test
    for n in range(5000):
        store.take_now(f"address:10.0.{n // 256}.{n % 256}", slow)
    assert len(store) == 1000
    # The survivors are the most recent: a client that keeps coming back keeps its (emptied) bucket.
    burst(store, "address:192.0.2.7", slow, 10)
    for n in range(500):
        store.take_now(f"address:172.16.{n // 256}.{n % 256}", slow)
        store.take_now("address:192.0.2.7", slow)
    assert not store.take_now("address:192.0.2.7", slow)[1]


TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))


@pytest.mark.parametrize(("peer", "forwarded", "trusted", "expected"), [
    ("203.0.113.5", [], (), "203.0.113.5"),
    ("203.0.113.5", ["198.51.100.1"], (), "203.0.113.5"),  # no trusted proxies: XFF ignored
    ("203.0.113.5", ["198.51.100.1"], TRUSTED, "203.0.113.5"),  # peer not trusted: XFF ignored
    ("10.1.2.3", ["198.51.100.1"], TRUSTED, "198.51.100.1"),
    ("10.1.2.3", ["1.1.1.1, 198.51.100.1"], TRUSTED, "198.51.100.1"),  # the client's own claim is left of it
    ("10.1.2.3", ["198.51.100.1, 10.9.9.9"], TRUSTED, "198.51.100.1"),  # two trusted hops
    ("10.1.2.3", ["198.51.100.1", "10.9.9.9"], TRUSTED, "198.51.100.1"),  # repeated header
    ("10.1.2.3", ["10.9.9.9"], TRUSTED, "10.9.9.9"),  # only proxies: the farthest one
    ("10.1.2.3", [], TRUSTED, "10.1.2.3"),
    ("10.1.2.3", ["not-an-ip, 10.9.9.9"], TRUSTED, "10.9.9.9"),  # garbage stops the walk
    ("10.1.2.3", ["198.51.100.1:4711"], TRUSTED, "198.51.100.1"),
    ("10.1.2.3", ["[2001:db8::1]:4711"], TRUSTED, "2001:db8::/64"),
    ("2001:db8:1:2:aaaa::1", [], (), "2001:db8:1:2::/64"),  # IPv6 counted per /64
    ("::ffff:192.0.2.9", [], (), "192.0.2.9"),
    (None, [], (), "unknown"),
])
def test_client_address_believes_forwarded_for_only_from_trusted_proxies(peer, forwarded, trusted, expected):
    assert client_address(peer, forwarded, trusted) == expected


class UnreachableDatabase:
    def __init__(self) -> None:
        self.attempts = 0

    def autocommit(self):
        database = self

        class Session:
            async def __aenter__(self):
                database.attempts += 1
                raise ConnectionRefusedError("connection refused")

            async def __aexit__(self, *exc):
                return False

        return Session()


async def test_the_postgres_store_fails_open_and_backs_off_while_the_database_is_unreachable(caplog):
    clock = FakeClock()
    database = UnreachableDatabase()
    store = PostgresStore(lambda: database, idle_seconds=60, clock=clock)
    assert await store.take("writes:alice", WRITES) == (100.0, True)
    assert await store.take("writes:alice", WRITES) == (100.0, True)
    assert database.attempts == 1, "no connect timeout per request while it is down"
    assert "letting requests through" in caplog.text and "connection refused" not in caplog.text
    clock.advance(PostgresStore.RETRY_SECONDS)
    await store.take("writes:alice", WRITES)
    assert database.attempts == 2
