"""An accepted write is never lost: the broker frozen mid-traffic delays events, never writes."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import asyncpg
import pytest

from stack import Api, Worker, own_database, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_stack(embedded_pg, tmp_path_factory):
    """A database, broker and worker of this module's own: freezing them must not disturb other tests, and
    no other worker may sweep this outbox (the session worker would publish the frozen worker's rows to
    the session broker and mark them confirmed, so "every row is confirmed" would prove nothing)."""
    tmp = tmp_path_factory.mktemp("outage")
    with own_database(embedded_pg, "outage") as database_url:
        broker = start_broker(tmp)
        worker = Worker(database_url=database_url, broker_url=broker.url, data_dir=tmp / "worker").start()
        yield broker, worker, database_url
        worker.stop()
        broker.stop()


async def test_writes_succeed_while_the_broker_is_frozen_and_every_event_arrives_after(own_stack, read_topic):
    broker, worker, database_url = own_stack
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await outage_and_recovery(broker, worker, conn, read_topic)
    finally:
        await conn.close()


async def outage_and_recovery(broker, worker, conn, read_topic) -> None:
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
            held_back = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE key = $1 AND published_at IS NULL", api.user_id)
            thawed_at = await conn.fetchval("SELECT now()")
        finally:
            broker.thaw()

    print(f"slowest create+complete pair while frozen: {slowest * 1000:.0f} ms")
    expected = 1 + 2 * len(created)
    events = await read_topic(broker.url, "task-events", key=api.user_id, expect=expected, timeout=60)
    event_ids = [e["value"]["event_id"] for e in events]
    assert len(set(event_ids)) == expected, f"{len(set(event_ids))} of {expected} events arrived"
    assert {e["value"]["task_id"] for e in events} == {before["id"], *created}

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
    # Only this worker sweeps this database: what the outage held back, it confirmed after the thaw.
    assert held_back >= 2 * len(created), f"only {held_back} rows waited for the frozen broker"
    confirmed_after = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE key = $1 AND published_at >= $2", api.user_id, thawed_at)
    assert confirmed_after == held_back, f"{confirmed_after} of {held_back} held-back rows confirmed after the thaw"


async def test_a_change_reaches_the_writers_socket_on_the_same_worker_while_the_broker_is_frozen(own_stack):
    """The worker that commits a change pushes it to the sockets it holds at once: the relay, the broker and
    the fan-out agent are on the way to every other worker's sockets, not to its own."""
    from test_websocket import connect, receive

    broker, worker, database_url = own_stack
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        api = Api(http, worker.url, f"local-push-{uuid.uuid4()}")
        socket = await connect(http, worker.url, api.token)
        try:
            broker.freeze()
            try:
                task = await api.create(title="seen while the broker is frozen")
                update = await receive(socket, timeout=5)
                assert (update["type"], update["task"]["id"], update["seq"]) == (
                    "task.created", task["id"], socket.ready_seq + 1)
            finally:
                broker.thaw()

            # The same update then comes through the broker too; the socket does not repeat it.
            conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                deadline = time.monotonic() + 30
                while await conn.fetchval("SELECT count(*) FROM outbox WHERE key = $1 AND published_at IS NULL",
                                          api.user_id) and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
            finally:
                await conn.close()
            with pytest.raises(asyncio.TimeoutError):
                extra = await receive(socket, timeout=3)
                pytest.fail(f"the update came again: {extra}")
        finally:
            await socket.close()
