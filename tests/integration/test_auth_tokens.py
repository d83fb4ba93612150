"""Tokens on a worker that expects an issuer and an audience and also takes RS256 tokens from a JWKS URL
(served here by a local aiohttp server with an RSA key made for the test)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any, AsyncIterator, Iterator

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from stack import Api, Worker, make_token

from streams.cli.embedded import free_port

pytestmark = pytest.mark.integration

ISSUER = "https://login.example.test"
AUDIENCE = "taskstream-tests"
KID = "test-key-1"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY = rsa_key()


class JwksServer:
    """A JSON Web Key Set on 127.0.0.1 that counts how often it is fetched."""

    def __init__(self) -> None:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key(), as_dict=True)
        self.keys = {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}
        self.fetches = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/.well-known/jwks.json"
        self.runner: web.AppRunner | None = None

    async def serve(self, request: web.Request) -> web.Response:
        self.fetches += 1
        return web.json_response(self.keys)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/.well-known/jwks.json", self.serve)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture(scope="module")
async def jwks() -> AsyncIterator[JwksServer]:
    server = JwksServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
def strict_worker(postgres, broker, jwks, tmp_path_factory) -> Iterator[Worker]:
    process = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("strict-auth"),
                     extra_env={"JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, "JWT_JWKS_URL": jwks.url}).start()
    yield process
    process.stop()


def rs256(sub: str | None = "alice", *, key: rsa.RSAPrivateKey = SIGNING_KEY, kid: str = KID, ttl: int = 600,
          **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + ttl, **claims}
    if sub is not None:
        payload["sub"] = sub
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def hs256(sub: str = "alice", **claims: Any) -> str:
    return make_token(sub, **{"iss": ISSUER, "aud": AUDIENCE, **claims})


def hmac_signed_with_the_public_key(sub: str) -> str:
    """The classic algorithm confusion: HS256 keyed with the RSA public key that everyone can fetch."""
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    public_pem = SIGNING_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    signing_input = ".".join((part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode()),
                              part(json.dumps({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now,
                                               "exp": now + 600}).encode())))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


async def status_for(http: aiohttp.ClientSession, worker: Worker, token: str) -> tuple[int, dict]:
    async with http.get(f"{worker.url}/api/tasks", headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


async def test_tokens_must_carry_the_configured_issuer_and_audience(strict_worker, http):
    assert (await status_for(http, strict_worker, hs256()))[0] == 200
    cases = {
        "another audience": hs256(aud="someone-else"),
        "no 'aud' claim": make_token("alice", iss=ISSUER),
        "another issuer": hs256(iss="https://evil.example.test"),
        "no 'iss' claim": make_token("alice", aud=AUDIENCE),
    }
    for expected, token in cases.items():
        status, body = await status_for(http, strict_worker, token)
        assert status == 401 and body["error"] == "unauthorized", (expected, body)
        assert expected in body["message"], body["message"]


async def test_rs256_tokens_verify_against_the_key_set(strict_worker, jwks, http):
    user_id = f"idp-{uuid.uuid4()}"
    api = Api(http, strict_worker.url, user_id)
    api.token = rs256(user_id)
    task = await api.create(title="from the identity provider")
    status, listing, _ = await api.call("GET", "/api/tasks")
    assert status == 200 and [t["id"] for t in listing["tasks"]] == [task["id"]]
    assert task["user_id"] == user_id

    socket = await http.ws_connect(f"{strict_worker.url}/ws", protocols=("bearer", rs256(user_id)))
    try:
        ready = await socket.receive_json(timeout=10)
        assert ready["type"] == "ready"
    finally:
        await socket.close()

    for _ in range(5):
        assert (await status_for(http, strict_worker, rs256(user_id)))[0] == 200
    assert jwks.fetches == 1, "the key set is cached"


async def test_rs256_tokens_that_do_not_verify_are_refused(strict_worker, http):
    cases = [  # (what the 401 says, token)
        ("signature does not verify", rs256(key=rsa_key())),
        ("key 'rotated-away', which is not in the key set at JWT_JWKS_URL", rs256(kid="rotated-away")),
        ("expired", rs256(ttl=-120)),
        ("not valid yet", rs256(nbf=int(time.time()) + 3600)),
        ("another audience", rs256(aud="someone-else")),
        ("no 'sub' claim", rs256(None)),
        # HS256 keyed with the public key fails on its signature: JWT_SECRET is the only HS256 key.
        ("signature does not verify", hmac_signed_with_the_public_key("alice")),
    ]
    for expected, token in cases:
        async with http.get(f"{strict_worker.url}/api/tasks", headers={"Authorization": f"Bearer {token}"}) as r:
            body = await r.json()
            assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), (expected, body)
            assert body["error"] == "unauthorized" and token not in json.dumps(body)
            assert expected in body["message"], body["message"]
