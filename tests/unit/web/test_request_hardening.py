"""The middleware chain on a small app and a fake clock: 429s, RateLimit headers, CORS and security headers."""

from __future__ import annotations

import time
from typing import AsyncIterator, Callable

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.settings import Settings, from_env
from web import auth
from web.middleware import USER_ID_KEY, middlewares
from web.security import CONTENT_SECURITY_POLICY

SECRET = "unit-tests-secret-0123456789abcdefghij"


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def token(user: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user)}"}


async def things(request: web.Request) -> web.Response:
    return web.json_response({"user": request[USER_ID_KEY]}, status=201 if request.method == "POST" else 200)


async def page(request: web.Request) -> web.Response:
    return web.Response(text="<!doctype html><title>x</title>", content_type="text/html")


async def plain(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@pytest.fixture
async def serve(monkeypatch) -> AsyncIterator[Callable[..., TestClient]]:
    """Start a small app with the real middleware chain under the given environment."""
    clients: list[TestClient] = []

    async def start(env: dict[str, str] | None = None, clock: FakeClock | None = None) -> TestClient:
        settings: Settings = from_env({"JWT_SECRET": SECRET, **(env or {})})
        monkeypatch.setattr(auth, "_verifier", lambda: (SECRET, settings, None))
        app = web.Application(middlewares=middlewares(settings, clock=clock or FakeClock()))
        app.router.add_route("*", "/api/things", things)
        app.router.add_get("/", page)
        app.router.add_get("/health", plain)
        app.router.add_get("/metrics", plain)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def test_the_101st_write_in_a_burst_is_refused_with_429_until_a_token_refills(serve):
    clock = FakeClock()
    client = await serve(clock=clock)
    for n in range(100):
        response = await client.post("/api/things", headers=bearer("alice"))
        assert response.status == 201
        assert response.headers["RateLimit-Remaining"] == str(99 - n)
    refused = await client.post("/api/things", headers=bearer("alice"))
    assert refused.status == 429
    body = await refused.json()
    assert body["error"] == "rate_limited" and "retry in 1 s" in body["message"]
    assert body["details"] == {"limit": "writes", "retry_after": 1}
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["RateLimit-Limit"] == "100" and refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == "10"
    assert 'name="writes"' in refused.headers["RateLimit-Policy"]
    assert refused.headers["X-Content-Type-Options"] == "nosniff"

    assert (await client.post("/api/things", headers=bearer("bob"))).status == 201, "another user is unaffected"
    assert (await client.get("/api/things", headers=bearer("alice"))).status == 200, "reads have their own bucket"
    clock.now += 0.1
    assert (await client.post("/api/things", headers=bearer("alice"))).status == 201
    assert (await client.post("/api/things", headers=bearer("alice"))).status == 429


async def test_every_method_that_changes_something_counts_as_a_write(serve):
    client = await serve({"RATE_LIMIT": "writes=1/h:4"})
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert (await client.request(method, "/api/things", headers=bearer("alice"))).status in (200, 201)
    assert (await client.request("PATCH", "/api/things", headers=bearer("alice"))).status == 429
    assert (await client.get("/api/things", headers=bearer("alice"))).status == 200


async def test_the_address_limit_covers_every_route_but_the_probes(serve):
    clock = FakeClock()
    client = await serve({"RATE_LIMIT": "address=1/s:3"}, clock=clock)
    assert [(await client.get(path)).status for path in ("/", "/nowhere", "/api/things")] == [200, 404, 401]
    refused = await client.get("/metrics")
    assert refused.status == 429 and (await refused.json())["details"]["limit"] == "address"
    assert "from this address" in (await refused.json())["message"]
    assert (await client.get("/health")).status == 200, "probes are never throttled"
    clock.now += 1
    assert (await client.get("/metrics")).status == 200


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(serve):
    untrusted = await serve({"RATE_LIMIT": "address=1/h:1"})
    assert (await untrusted.get("/", headers={"X-Forwarded-For": "198.51.100.1"})).status == 200
    assert (await untrusted.get("/", headers={"X-Forwarded-For": "198.51.100.2"})).status == 429, (
        "a client cannot get a fresh bucket by making up an address")

    behind_proxy = await serve({"RATE_LIMIT": "address=1/h:1", "TRUSTED_PROXIES": "127.0.0.1"})
    assert (await behind_proxy.get("/", headers={"X-Forwarded-For": "198.51.100.1"})).status == 200
    assert (await behind_proxy.get("/", headers={"X-Forwarded-For": "198.51.100.2"})).status == 200
    assert (await behind_proxy.get("/", headers={"X-Forwarded-For": "198.51.100.1"})).status == 429


async def test_rate_limit_off_sends_no_rate_limit_headers(serve):
    client = await serve({"RATE_LIMIT": "off"})
    for _ in range(150):
        response = await client.post("/api/things", headers=bearer("alice"))
        assert response.status == 201
    assert not any(name.startswith("RateLimit") for name in response.headers)


@pytest.mark.parametrize(("method", "path", "headers", "status"), [
    ("GET", "/api/things", "alice", 200),
    ("GET", "/api/things", None, 401),
    ("GET", "/nowhere", None, 404),
    ("PUT", "/health", None, 405),
    ("GET", "/metrics", None, 200),
    ("GET", "/", None, 200),
])
async def test_every_answer_carries_the_security_headers(serve, method, path, headers, status):
    client = await serve()
    response = await client.request(method, path, headers=bearer(headers) if headers else None)
    assert response.status == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    expected = CONTENT_SECURITY_POLICY if path == "/" else "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["Content-Security-Policy"] == expected


async def test_the_page_policy_allows_nothing_inline_and_connects_only_to_its_own_origin(serve):
    client = await serve()
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in (await client.get("/")).headers["Content-Security-Policy"].split(";")
    }
    assert policy["default-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not any("'unsafe-inline'" in values or "'unsafe-eval'" in values for values in policy.values())


APP_ORIGIN = "https://app.example.com"


async def test_an_allowed_origin_gets_a_preflight_and_readable_answers(serve):
    client = await serve({"CORS_ORIGINS": f"{APP_ORIGIN},http://localhost:3000"})
    preflight = await client.options("/api/things", headers={
        "Origin": APP_ORIGIN, "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization,content-type,if-match"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert {"PATCH", "DELETE"} <= {m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")}
    allowed_headers = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "if-match"} <= allowed_headers
    assert int(preflight.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in preflight.headers, "bearer tokens, not cookies"

    response = await client.post("/api/things", headers={"Origin": APP_ORIGIN, **bearer("alice")})
    assert response.status == 201
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Location", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
            "RateLimit-Policy"} <= exposed
    assert "Origin" in response.headers["Vary"]
    unauthorized = await client.get("/api/things", headers={"Origin": APP_ORIGIN})
    assert unauthorized.status == 401 and unauthorized.headers["Access-Control-Allow-Origin"] == APP_ORIGIN, (
        "the page can read why it was refused")


async def test_any_other_origin_gets_no_cors_headers_and_a_403_preflight(serve):
    client = await serve({"CORS_ORIGINS": APP_ORIGIN})
    for origin in ("https://evil.example.net", "https://app.example.com.evil.example.net", "null",
                   "http://app.example.com"):
        preflight = await client.options("/api/things", headers={"Origin": origin,
                                                                  "Access-Control-Request-Method": "POST"})
        assert preflight.status == 403
        body = await preflight.json()
        assert body["error"] == "cors_origin_not_allowed" and "CORS_ORIGINS" in body["message"]
        assert not any(name.startswith("Access-Control-") for name in preflight.headers)
        response = await client.get("/api/things", headers={"Origin": origin, **bearer("alice")})
        assert response.status == 200
        assert not any(name.startswith("Access-Control-") for name in response.headers)


async def test_without_cors_origins_there_are_no_cors_headers_at_all(serve):
    client = await serve()
    preflight = await client.options("/api/things", headers={"Origin": APP_ORIGIN,
                                                              "Access-Control-Request-Method": "POST"})
    assert preflight.status == 403 and "CORS_ORIGINS is empty" in (await preflight.json())["message"]
    response = await client.get("/api/things", headers={"Origin": APP_ORIGIN, **bearer("alice")})
    assert not any(name.startswith("Access-Control-") for name in response.headers)
    assert "Vary" not in response.headers
