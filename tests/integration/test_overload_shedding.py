"""MAX_IN_FLIGHT on a real worker: while a slow upload holds the only slot, another request is answered
503 overloaded at once, the probes still answer, and once the slot is free requests are served again."""

from __future__ import annotations

import asyncio
import json
import time
from typing import AsyncIterator, Iterator
from urllib.parse import urlsplit

import aiohttp
import pytest
from stack import Worker, make_token

pytestmark = pytest.mark.integration

BODY = json.dumps({"title": "uploaded slowly"}).encode()


@pytest.fixture(scope="module")
def capped_worker(postgres, broker, tmp_path_factory) -> Iterator[Worker]:
    process = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("capped"),
                     extra_env={"MAX_IN_FLIGHT": "1"}).start()
    yield process
    process.stop()


@pytest.fixture
async def slow_upload(capped_worker) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """POST /api/tasks with the headers and half the body sent: its handler waits for the rest."""
    url = urlsplit(capped_worker.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    token = make_token("slow-uploader")
    writer.write(f"POST /api/tasks HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n\r\n"
                 .encode() + BODY[:8])
    await writer.drain()
    yield reader, writer
    writer.close()
    await writer.wait_closed()


async def shed_total(http: aiohttp.ClientSession, base: str) -> float:
    async with http.get(f"{base}/metrics") as response:
        text = await response.text()
    return next(float(line.split()[1]) for line in text.splitlines() if line.startswith("taskstream_http_shed_total "))


async def test_a_request_past_the_cap_is_shed_at_once_while_a_slow_upload_holds_the_slot(capped_worker, http,
                                                                                          slow_upload):
    base, headers = capped_worker.url, {"Authorization": f"Bearer {make_token('reader')}"}
    shed_before = await shed_total(http, base)

    # The upload reaches its handler a moment after its headers: until then a read may still get the slot.
    deadline = time.monotonic() + 10
    while True:
        began = time.perf_counter()
        async with http.get(f"{base}/api/tasks", headers=headers) as refused:
            took = time.perf_counter() - began
            body = await refused.json()
        if refused.status == 503 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert refused.status == 503
    assert took < 1.0, "shed at once, not after waiting for the slot"
    assert refused.headers["Retry-After"] == "1"
    assert body["error"] == "overloaded" and body["details"] == {"max_in_flight": 1}
    assert "MAX_IN_FLIGHT" in body["message"]
    async with http.get(f"{base}/health") as health, http.get(f"{base}/ready") as ready:
        assert (health.status, ready.status) == (200, 200), "the probes are never shed"
    assert await shed_total(http, base) >= shed_before + 1

    reader, writer = slow_upload
    writer.write(BODY[8:])
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    assert int(status_line.split()[1]) == 201, "the upload holding the slot is served normally"

    async with http.get(f"{base}/api/tasks", headers=headers) as served:
        assert served.status == 200, "with the slot free again, requests are served"
