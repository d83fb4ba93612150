"""Rate limits on real workers with the shipped defaults: a burst beyond the limit is refused with 429,
nothing of a refused write happens, other users carry on, and the PostgreSQL store holds across workers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, AsyncIterator, Iterator
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from stack import Api, Worker, make_token

pytestmark = pytest.mark.integration

WRITE_BURST = 100  # the default: writes=10/s:100


@pytest.fixture
def limited_worker(postgres, broker, tmp_path_factory) -> Iterator[Worker]:
    """A worker with the defaults a deployment gets (RATE_LIMIT unset means on)."""
    process = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("limited"),
                     extra_env={"RATE_LIMIT": ""}).start()
    yield process
    process.stop()


@pytest.fixture
async def wide_http() -> AsyncIterator[aiohttp.ClientSession]:
    """No cap on connections, so a burst leaves the client at once instead of queueing behind 100 sockets."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def database_rows(postgres: str, user_id: str) -> dict[str, int]:
    conn = await asyncpg.connect(postgres.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return {table: await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = $1", user_id)
                for table, column in (("tasks", "user_id"), ("task_events", "user_id"), ("outbox", "key"))}
    finally:
        await conn.close()


async def burst(base: str, token: str, bodies: list[bytes]) -> list[tuple[int, dict[str, str], Any]]:
    """POST /api/tasks once per body, all at once: every connection is open before the first byte goes out,
    and the requests are bytes ready to write, so the whole burst reaches the server within a few ms."""
    url = urlsplit(base)
    connections = [await asyncio.open_connection(url.hostname, url.port) for _ in bodies]
    requests = [
        (f"POST /api/tasks HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
         f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        + body
        for body in bodies
    ]
    for (_, writer), request in zip(connections, requests):
        writer.write(request)
    answers = []
    for reader, writer in connections:
        raw = await reader.read()
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        answers.append((int(status_line.split()[1]), headers, json.loads(body) if body else None))
    return answers


async def test_writes_beyond_the_burst_are_refused_and_nothing_of_them_happens(limited_worker, http, postgres):
    """100 writes at once pass; past them only what refilled (10 a second) while the burst arrived does.
    (That exactly the 101st is refused is tested on a fake clock in tests/unit/web/test_rate_limit_buckets.py
    and test_request_hardening.py: on a shared machine a real burst of 100 writes takes a while to arrive.)"""
    user = Api(http, limited_worker.url, f"burst-{uuid.uuid4()}")
    titles = [f"burst {n}" for n in range(WRITE_BURST + 50)]
    started = time.monotonic()
    results = await burst(limited_worker.url, user.token, [json.dumps({"title": t}).encode() for t in titles])
    elapsed = time.monotonic() - started

    accepted = [r for r in results if r[0] == 201]
    refused = [(t, r) for t, r in zip(titles, results) if r[0] == 429]
    assert len(accepted) + len(refused) == len(titles), sorted({r[0] for r in results})
    assert WRITE_BURST <= len(accepted) <= WRITE_BURST + 10 * elapsed + 1, (len(accepted), elapsed)
    assert refused, f"the burst took {elapsed:.1f} s: long enough to refill all 50 extra writes?"

    for _, (_, headers, body) in refused:
        assert body["error"] == "rate_limited"
        assert body["message"].endswith(f"retry in {headers['Retry-After']} s")
        assert body["details"] == {"limit": "writes", "retry_after": int(headers["Retry-After"])}
        assert int(headers["Retry-After"]) >= 1
        assert headers["RateLimit-Limit"] == str(WRITE_BURST) and headers["RateLimit-Remaining"] == "0"
        assert int(headers["RateLimit-Reset"]) >= 1
        assert 'name="writes"' in headers["RateLimit-Policy"] and 'name="address"' in headers["RateLimit-Policy"]
        assert headers["Content-Type"].startswith("application/json")
        assert headers["X-Content-Type-Options"] == "nosniff"
    assert all(h["RateLimit-Limit"] == str(WRITE_BURST) for _, h, _ in accepted), "limited answers say so too"
    assert sorted({int(h["RateLimit-Remaining"]) for _, h, _ in accepted}) == list(range(WRITE_BURST)), (
        "each accepted write took one token, down to the last")

    stored = set()
    for offset in range(0, len(titles), 100):
        _, page, _ = await user.call("GET", "/api/tasks", params={"limit": "100", "offset": str(offset)})
        stored |= {task["title"] for task in page["tasks"]}
    assert page["total"] == len(accepted) == len(stored)
    assert not stored & {title for title, _ in refused}
    count = len(accepted)
    assert await database_rows(postgres, user.user_id) == {"tasks": count, "task_events": count, "outbox": count}, (
        "the refused writes left no task, audit row or event behind")

    for _ in range(20):  # spend what refilled since the burst
        status, _, headers = await user.call("POST", "/api/tasks", json_body={"title": "too soon"})
        if status == 429:
            break
    assert status == 429
    other = Api(http, limited_worker.url, f"other-{uuid.uuid4()}")
    status, _, _ = await other.call("POST", "/api/tasks", json_body={"title": "unaffected"})
    assert status == 201, "another user has a bucket of their own"
    await asyncio.sleep(int(headers["Retry-After"]))
    status, _, _ = await user.call("POST", "/api/tasks", json_body={"title": "after waiting"})
    assert status == 201


@pytest.fixture
def shared_workers(postgres, broker, tmp_path_factory) -> Iterator[tuple[Worker, Worker]]:
    """Two workers on one database sharing their buckets, as replicas behind a Service do."""
    env = {"RATE_LIMIT": "", "RATE_LIMIT_STORE": "postgres"}
    first = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("shared-a"),
                   extra_env=env).start()
    second = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("shared-b"),
                    extra_env=env)
    try:
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


async def test_the_postgres_store_holds_one_limit_across_two_workers(shared_workers, wide_http, postgres):
    first, second = shared_workers
    user_id = f"shared-{uuid.uuid4()}"
    on_first, on_second = Api(wide_http, first.url, user_id), Api(wide_http, second.url, user_id)
    per_worker = WRITE_BURST  # each worker alone would accept all of its share

    started = time.monotonic()
    results = await asyncio.gather(*(
        api.call("POST", "/api/tasks", json_body={"title": f"shared {n}"})
        for n in range(per_worker) for api in (on_first, on_second)
    ))
    elapsed = time.monotonic() - started
    accepted = sum(status == 201 for status, _, _ in results)
    refused = [(status, body, headers) for status, body, headers in results if status == 429]
    assert accepted + len(refused) == 2 * per_worker, {status for status, _, _ in results}
    # One bucket of 100 for both: what refilled while the burst was in flight is all that may come on top.
    assert WRITE_BURST <= accepted <= WRITE_BURST + 10 * elapsed + 1, (accepted, elapsed)
    assert refused and all(body["error"] == "rate_limited" and headers["Retry-After"] for _, body, headers in refused)
    rows = await database_rows(postgres, user_id)
    assert rows == {"tasks": accepted, "task_events": accepted, "outbox": accepted}

    # Either worker refuses this user within what refilled meanwhile, and both let another user in.
    for api in (on_first, on_second):
        for _ in range(20):
            status, _, headers = await api.call("POST", "/api/tasks", json_body={"title": "one more"})
            if status == 429:
                break
        assert status == 429 and headers["RateLimit-Remaining"] == "0"
    for worker in (first, second):
        status, _, _ = await Api(wide_http, worker.url, f"fresh-{uuid.uuid4()}").call(
            "POST", "/api/tasks", json_body={"title": "mine"})
        assert status == 201


@pytest.fixture
def strict_address_worker(postgres, broker, tmp_path_factory) -> Iterator[Worker]:
    """A worker that asks for a tiny per-address limit, to reach it without thousands of requests."""
    process = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("strict"),
                     extra_env={"RATE_LIMIT": "address=1/m:3"}).start()
    yield process
    process.stop()


async def test_websocket_upgrades_count_against_the_client_address(strict_address_worker, http):
    base = strict_address_worker.url
    token = make_token(f"socket-{uuid.uuid4()}")
    sockets = [await http.ws_connect(f"{base}/ws", protocols=("bearer", token)) for _ in range(3)]
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{base}/ws", protocols=("bearer", token))
        assert refused.value.status == 429
        assert int(refused.value.headers["Retry-After"]) >= 1
        async with http.get(f"{base}/openapi.json") as response:
            assert response.status == 429
            body = await response.json()
            assert body["details"]["limit"] == "address" and "from this address" in body["message"]
        async with http.get(f"{base}/ready") as response:
            assert response.status == 200, "the readiness probe is never throttled"
    finally:
        for socket in sockets:
            await socket.close()


async def test_the_sql_bucket_takes_atomically_and_refills_on_the_database_clock(postgres):
    """db.rate_limits.take on its own: many workers' requests at once never spend a token twice."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from db import rate_limits

    engine = create_async_engine(postgres, pool_size=20, isolation_level="AUTOCOMMIT")
    sessions = async_sessionmaker(engine)
    key = f"writes:sql-{uuid.uuid4()}"

    async def take(rate: float = 1 / 3600, burst: int = 10) -> tuple[float, bool]:
        async with sessions() as session:
            return await rate_limits.take(session, key, rate=rate, burst=burst)

    try:
        results = await asyncio.gather(*(take() for _ in range(40)))
        assert sum(allowed for _, allowed in results) == 10
        assert sorted(round(tokens) for tokens, allowed in results if allowed) == list(range(10))
        async with sessions() as session:  # as if 2.5 s had passed, at 2 tokens a second
            await session.execute(text("UPDATE rate_limits SET updated_at = updated_at - interval '2.5 seconds' "
                                       "WHERE key = :key"), {"key": key})
        assert [(int(t), ok) for t, ok in [await take(rate=2) for _ in range(6)]] == [
            (4, True), (3, True), (2, True), (1, True), (0, True), (0, False)]
        async with sessions() as session:
            await session.execute(text("UPDATE rate_limits SET updated_at = updated_at - interval '1 hour' "
                                       "WHERE key = :key"), {"key": key})
            assert await rate_limits.forget_idle(session, idle_seconds=60) >= 1
        assert await take() == (9.0, True), "a forgotten bucket starts full again (10, less this request)"
    finally:
        await engine.dispose()
