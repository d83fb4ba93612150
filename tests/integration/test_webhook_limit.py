"""A user keeps at most 20 webhooks, also when many creates arrive at once (session worker)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

pytestmark = pytest.mark.integration

LIMIT = 20


async def create(api, n: int) -> int:
    status, body, _ = await api.call("POST", "/api/webhooks",
                                     json_body={"url": f"https://127.0.0.1:9/hook-{n}", "events": ["*"]})
    assert status in (201, 409), body
    if status == 409:
        assert body["error"] == "conflict" and "delete one first" in body["message"], body
    return status


async def test_concurrent_creates_never_exceed_the_limit(api):
    statuses = Counter(await asyncio.gather(*(create(api, n) for n in range(LIMIT + 15))))
    _, listed, _ = await api.call("GET", "/api/webhooks")
    assert len(listed["webhooks"]) == LIMIT, statuses
    assert statuses == {201: LIMIT, 409: 15}


async def test_a_create_after_a_delete_at_the_limit_succeeds(api):
    for n in range(LIMIT):
        assert await create(api, n) == 201
    assert await create(api, LIMIT) == 409
    _, listed, _ = await api.call("GET", "/api/webhooks")
    status, _, _ = await api.call("DELETE", f"/api/webhooks/{listed['webhooks'][0]['id']}")
    assert status == 204
    assert await create(api, LIMIT + 1) == 201
