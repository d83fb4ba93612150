"""SIGTERM stops a worker without losing anything: a running request finishes, WebSockets hear 1001
(going away) so clients reconnect, the agents' offsets are committed, and the process exits 0."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid

import aiohttp
import asyncpg
import pytest
from stack import Api, Worker, own_database, read_topic, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture
def own_stack(embedded_pg, tmp_path):
    """A database and broker of this test's own: it checks the outbox and the group's offsets."""
    with own_database(embedded_pg, "shutdown") as url:
        broker = start_broker(tmp_path)
        try:
            yield url, broker
        finally:
            broker.stop()


async def committed_offsets(broker_url: str, topic: str, partitions: set[int]) -> dict[int, int]:
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from streams.kafka import bootstrap_servers

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(broker_url))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(
            "taskstream", partitions=[TopicPartition(topic, p) for p in sorted(partitions)])
        return {tp.partition: meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()


async def wait_until_blocked_on_a_lock(conn: asyncpg.Connection, timeout: float = 10) -> None:
    """Until some other session waits for a row lock (the request under test is then in flight)."""
    deadline = time.monotonic() + timeout
    while not await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"):
        assert time.monotonic() < deadline, "the request never reached the database"
        await asyncio.sleep(0.05)


async def test_sigterm_finishes_running_requests_closes_sockets_with_1001_commits_offsets_and_exits_0(
        own_stack, tmp_path):
    url, broker = own_stack
    worker = Worker(database_url=url, broker_url=broker.url, data_dir=tmp_path / "worker").start()
    db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    locker = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            api = Api(http, worker.url, f"shutdown-{uuid.uuid4()}")
            tasks = [await api.create(title=f"before {i}") for i in range(6)]
            # The fan-out agent has handled every one of them (it consumed task-events).
            await read_topic(broker.url, "task-updates", key=api.user_id, expect=len(tasks))
            consumed = await read_topic(broker.url, "task-events", key=api.user_id, expect=len(tasks))
            socket = await http.ws_connect(worker.url.replace("http://", "ws://") + "/ws",
                                           params={"token": api.token})
            assert json.loads((await socket.receive(timeout=10)).data)["type"] == "ready"

            # A slow request: the PATCH waits for a row lock this test holds.
            transaction = locker.transaction()
            await transaction.start()
            await locker.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", uuid.UUID(tasks[0]["id"]))
            patch = asyncio.ensure_future(
                api.call("PATCH", f"/api/tasks/{tasks[0]['id']}", json_body={"title": "finished while stopping"}))
            await wait_until_blocked_on_a_lock(db)

            worker.process.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            closed = await socket.receive(timeout=10)
            assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1001), closed
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as fresh:
                with pytest.raises(aiohttp.ClientConnectionError):
                    await fresh.get(f"{worker.url}/health")  # no new connections once stopping

            await asyncio.sleep(1.5)
            assert not patch.done(), "the request is still running, held by the lock"
            await transaction.rollback()
            status, body, _ = await patch
            assert status == 200 and body["title"] == "finished while stopping", body
            code = await asyncio.to_thread(worker.process.wait, 60)
            stopped_after = time.monotonic() - stopping
        assert code == 0, worker.log_tail()
        print(f"SIGTERM to exit: {stopped_after:.1f} s (including the 1.5 s the request was held)")

        assert await db.fetchval("SELECT title FROM tasks WHERE id = $1", uuid.UUID(tasks[0]["id"])) == (
            "finished while stopping")
        unpublished = await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert unpublished == 0, "the stopping worker published what its last request committed"
        events = await read_topic(broker.url, "task-events", key=api.user_id, expect=len(tasks) + 1)
        assert [e["value"]["event_type"] for e in events].count("updated") == 1, "the last change's event too"

        ends: dict[int, int] = {}
        for event in consumed:
            ends[event["partition"]] = max(ends.get(event["partition"], 0), event["offset"] + 1)
        committed = await committed_offsets(broker.url, "task-events", set(ends))
        assert all(committed[p] >= end for p, end in ends.items()), (
            f"committed {committed}, consumed up to {ends}: offsets are committed on the way out")
    finally:
        worker.stop()
        await locker.close()
        await db.close()
