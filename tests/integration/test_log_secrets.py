"""A worker logging at debug level never writes a bearer token or the signing secret, whatever it is sent."""

from __future__ import annotations

import json
import uuid

import aiohttp
import pytest
from stack import JWT_SECRET, Worker, make_token

pytestmark = pytest.mark.integration


async def test_tokens_and_the_secret_never_reach_the_log(postgres, broker, tmp_path, http):
    worker = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path / "debug-worker",
                    extra_env={"LOG_LEVEL": "debug", "LOG_FORMAT": "json", "RATE_LIMIT": "address=1/s:20"})
    user = f"logged-{uuid.uuid4()}"
    good = make_token(user)
    forged = make_token(user, secret="not-the-secret-0123456789abcdefghijk")
    expired = make_token(user, ttl=-600)
    worker.start()
    try:
        base = worker.url
        for token in (good, forged, expired):
            headers = {"Authorization": f"Bearer {token}"}
            async with http.post(f"{base}/api/tasks", json={"title": "a logged task"}, headers=headers):
                pass
            async with http.get(f"{base}/api/tasks", headers=headers):
                pass
            async with http.get(f"{base}/api/tasks", params={"token": token}, headers=headers):
                pass  # an unknown parameter: a 400 that must not echo it either
            for kwargs in ({"params": {"token": token}}, {"protocols": ("bearer", token)}):
                try:
                    socket = await http.ws_connect(f"{base}/ws", **kwargs)
                except aiohttp.WSServerHandshakeError:
                    continue  # the refused tokens
                await socket.receive_json(timeout=10)
                await socket.close()
        async with http.get(f"{base}/nowhere", params={"token": good}):
            pass
        for _ in range(20):  # past the address limit (after the 16 above): 429s are logged too
            async with http.get(f"{base}/api/tasks", headers={"Authorization": f"Bearer {good}"}):
                pass
    finally:
        worker.stop()

    log = worker.log_path.read_text(errors="replace")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line["level"] == "debug" for line in lines), "the worker really logged at debug level"
    assert any(line.get("status") == 401 for line in lines) and any(line.get("status") == 429 for line in lines)
    for secret in (good, forged, expired, JWT_SECRET):
        assert secret not in log
        for part in secret.split(".")[1:]:  # nor the claims or the signature on their own
            assert part not in log
