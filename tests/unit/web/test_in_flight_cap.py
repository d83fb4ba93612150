"""MAX_IN_FLIGHT on a real server: past the cap a request is answered 503 at once; under it nothing changes."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Callable

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from streams.settings import from_env
from web import auth
from web.middleware import middlewares

SECRET = "unit-tests-secret-0123456789abcdefghij"
BODY = b'{"title": "a slow upload"}'


def bearer() -> dict[str, str]:
    now = int(time.time())
    return {"Authorization": "Bearer " + jwt.encode({"sub": "alice", "iat": now, "exp": now + 600}, SECRET,
                                                    algorithm="HS256")}


def shed_total() -> float:
    return REGISTRY.get_sample_value("taskstream_http_shed_total") or 0.0


class Slow:
    """A request whose body arrives in two parts: it holds its slot from the headers until the rest comes."""

    def __init__(self, client: TestClient, started: asyncio.Event) -> None:
        self.client, self.started = client, started

    async def __aenter__(self) -> "Slow":
        self.reader, self.writer = await asyncio.open_connection(self.client.host, self.client.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in bearer().items())
        self.writer.write(f"POST /api/upload HTTP/1.1\r\nHost: localhost\r\n{head}Content-Length: {len(BODY)}\r\n"
                          f"Connection: close\r\n\r\n".encode() + BODY[:5])
        await self.writer.drain()
        await asyncio.wait_for(self.started.wait(), 5)  # the handler runs, waiting for the rest of the body
        return self

    async def finish(self) -> int:
        self.writer.write(BODY[5:])
        await self.writer.drain()
        status_line = await asyncio.wait_for(self.reader.readline(), 5)
        return int(status_line.split()[1])

    async def __aexit__(self, *exc_info: object) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
async def serve(monkeypatch) -> AsyncIterator[Callable[..., object]]:
    clients: list[TestClient] = []

    async def start(max_in_flight: str) -> tuple[TestClient, asyncio.Event]:
        settings = from_env({"JWT_SECRET": SECRET, "MAX_IN_FLIGHT": max_in_flight})
        monkeypatch.setattr(auth, "_verifier", lambda: (SECRET, settings, None))
        started = asyncio.Event()

        async def upload(request: web.Request) -> web.Response:
            started.set()
            await request.read()
            return web.json_response({"ok": True}, status=201)

        async def things(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        async def socket(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for _ in ws:
                pass
            return ws

        app = web.Application(middlewares=middlewares(settings))
        app.router.add_post("/api/upload", upload)
        app.router.add_get("/api/things", things)
        app.router.add_get("/ws", socket)
        for probe in ("/health", "/ready", "/metrics"):
            app.router.add_get(probe, things)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client, started

    yield start
    for client in clients:
        await client.close()


async def test_past_the_cap_a_request_is_answered_503_at_once_while_a_slow_one_holds_the_slot(serve):
    client, started = await serve("1")
    shed_before = shed_total()
    async with Slow(client, started) as slow:
        began = time.perf_counter()
        refused = await client.get("/api/things", headers={**bearer(), "X-Request-ID": "shed-1"})
        assert time.perf_counter() - began < 1.0, "shed at once, not after waiting for the slot"
        assert refused.status == 503
        assert refused.headers["Retry-After"] == "1"
        body = await refused.json()
        assert body["error"] == "overloaded" and "MAX_IN_FLIGHT" in body["message"]
        assert body["details"] == {"max_in_flight": 1}
        assert refused.headers["X-Request-ID"] == "shed-1"
        assert refused.headers["X-Content-Type-Options"] == "nosniff"
        assert shed_total() == shed_before + 1
        for probe in ("/health", "/ready", "/metrics"):
            assert (await client.get(probe)).status == 200, f"{probe} is never shed"

        assert await slow.finish() == 201, "the request holding the slot completes normally"
    assert (await client.get("/api/things", headers=bearer())).status == 200, "the slot is free again"


async def test_a_request_under_the_cap_is_unaffected(serve):
    client, started = await serve("2")
    shed_before = shed_total()
    async with Slow(client, started) as slow:
        response = await client.get("/api/things", headers=bearer())
        assert response.status == 200 and await response.json() == {"ok": True}
        assert await slow.finish() == 201
    assert shed_total() == shed_before


async def test_max_in_flight_0_turns_the_cap_off(serve):
    client, started = await serve("0")
    async with Slow(client, started) as slow:
        assert (await client.get("/api/things", headers=bearer())).status == 200
        assert await slow.finish() == 201


async def test_an_open_websocket_does_not_hold_a_slot(serve):
    client, _ = await serve("1")
    async with client.ws_connect("/ws") as socket:
        assert (await client.get("/api/things", headers=bearer())).status == 200
        await socket.close()
