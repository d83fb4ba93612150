"""An accepted write is never lost: the broker frozen mid-traffic delays events, never writes."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import asyncpg
import pytest

from stack import Api, Worker, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_stack(postgres, tmp_path_factory):
    """A broker and worker of this module's own: freezing them must not disturb other tests."""
    tmp = tmp_path_factory.mktemp("outage")
    broker = start_broker(tmp)
    worker = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp / "worker").start()
    yield broker, worker
    worker.stop()
    broker.stop()


async def test_writes_succeed_while_the_broker_is_frozen_and_every_event_arrives_after(own_stack, postgres,
                                                                                       read_topic):
    broker, worker = own_stack
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        api = Api(http, worker.url, f"outage-{uuid.uuid4()}")
        before = await api.create(title="before the outage")

        broker.freeze()
        try:
            slowest = 0.0
            created = []
            for i in range(40):
                started = time.monotonic()
                task = await api.create(title=f"during outage {i}")
                status, _, _ = await api.call("POST", f"/api/tasks/{task['id']}/complete")
                assert status == 200
                slowest = max(slowest, time.monotonic() - started)
                created.append(task["id"])
            # Past the relay's 10 s publish lease, so the sweep has had its turn at the backlog too.
            await asyncio.sleep(11)
        finally:
            broker.thaw()

    print(f"slowest create+complete pair while frozen: {slowest * 1000:.0f} ms")
    expected = 1 + 2 * len(created)
    events = await read_topic(broker.url, "task-events", key=api.user_id, expect=expected, timeout=60)
    event_ids = [e["value"]["event_id"] for e in events]
    assert len(set(event_ids)) == expected, f"{len(set(event_ids))} of {expected} events arrived"
    assert {e["value"]["task_id"] for e in events} == {before["id"], *created}

    conn = await asyncpg.connect(postgres.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        audit = await conn.fetch("SELECT id FROM task_events WHERE user_id = $1", api.user_id)
        assert len(audit) == expected, "no audit row twice"
        assert {str(row["id"]) for row in audit} == set(event_ids)
        deadline = time.monotonic() + 20
        while True:
            unpublished = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE key = $1 AND published_at IS NULL", api.user_id)
            if unpublished == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert unpublished == 0, "every outbox row is confirmed once the broker is back"
    finally:
        await conn.close()
