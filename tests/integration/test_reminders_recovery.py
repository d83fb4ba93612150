"""Postgres is the truth behind the schedule table: restarted, SIGKILLed or re-brokered workers' reminders
still fire, each exactly once.

This module runs its own database and broker, so the session worker (which would otherwise
deliver these reminders itself) cannot stand in for the restarted one.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest
from reminders_support import isolated_stack
from stack import Api, Worker, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def isolated(embedded_pg, tmp_path_factory):
    """(database URL, broker) of this module alone; the database is dropped afterwards."""
    with isolated_stack(embedded_pg, tmp_path_factory.mktemp("reminders-broker")) as stack:
        yield stack


@pytest.fixture
def workers(isolated, tmp_path_factory):
    """Start workers on the isolated stack; every one started is stopped at the end."""
    url, broker = isolated
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(database_url=url, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("rw")).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
async def db(isolated):
    conn = await asyncpg.connect(isolated[0].replace("postgresql+asyncpg://", "postgresql://"))
    yield conn
    await conn.close()


async def wait_all_sent(db, ids: list[str], *, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        unsent = await db.fetchval("SELECT count(*) FROM reminders WHERE id = ANY($1::uuid[]) AND NOT sent", ids)
        if unsent == 0 or time.monotonic() > deadline:
            return unsent
        await asyncio.sleep(0.2)


async def covering(db, ids: list[str]) -> dict[str, int]:
    """How many notifications name each reminder (in their data.reminder_ids)."""
    rows = await db.fetch(
        "SELECT r.id::text AS id, count(n.id) AS n FROM reminders r "
        "LEFT JOIN notifications n ON n.data->'reminder_ids' ? r.id::text "
        "WHERE r.id = ANY($1::uuid[]) GROUP BY r.id", ids)
    return {row["id"]: row["n"] for row in rows}


async def test_reminders_due_while_no_worker_runs_fire_once_when_a_new_worker_starts(workers, db):
    first = workers()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        kept_user, added_user = Api(http, first.url, f"kept-{uuid.uuid4()}"), Api(http, first.url, f"added-{uuid.uuid4()}")
        kept_task = await kept_user.create(title="kept across the restart")
        added_task = await added_user.create(title="added while stopped")
        when = datetime.now(UTC) + timedelta(seconds=1.5)
        status, kept, _ = await kept_user.call("POST", f"/api/tasks/{kept_task['id']}/reminders",
                                               json_body={"remind_at": when.isoformat()})
        assert status == 201
        # Stop before it is due: nothing fires while no worker runs.
        first.stop()
    assert first.process.returncode is not None
    # Written straight to Postgres while no worker runs, five minutes overdue.
    added_id = str(uuid.uuid4())
    await db.execute(
        "INSERT INTO reminders (id, user_id, task_id, remind_at) VALUES ($1, $2, $3, now() - interval '5 minutes')",
        uuid.UUID(added_id), added_user.user_id, uuid.UUID(added_task["id"]))
    await asyncio.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()) + 0.5)
    assert await db.fetchval("SELECT count(*) FROM notifications") == 0

    workers()
    ids = [kept["id"], added_id]
    assert await wait_all_sent(db, ids, timeout=20) == 0
    await asyncio.sleep(1)  # a second sweep's worth of time: no duplicate appears
    assert await covering(db, ids) == {kept["id"]: 1, added_id: 1}
    body = await db.fetchval("SELECT body FROM notifications WHERE reminder_id = $1", uuid.UUID(added_id))
    assert "delivered 5 min late" in body


async def test_sigkill_right_after_reminders_are_due_still_notifies_each_exactly_once(workers, db):
    first = workers()
    users = 20
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        apis = [Api(http, first.url, f"kill-{n}-{uuid.uuid4()}") for n in range(users)]
        when = datetime.now(UTC) + timedelta(seconds=3)
        ids = []
        for api in apis:
            task = await api.create(title="survives a crash")
            status, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                                 json_body={"remind_at": when.isoformat()})
            assert status == 201
            ids.append(reminder["id"])
    # Kill it while the due reminders are between the scheduler's lease and the notifier's commit.
    await asyncio.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()) + 0.05)
    first.stop(signal.SIGKILL)
    sent_before = await db.fetchval("SELECT count(*) FROM reminders WHERE id = ANY($1::uuid[]) AND sent", ids)

    workers()
    assert await wait_all_sent(db, ids, timeout=30) == 0
    await asyncio.sleep(1)
    counts = await covering(db, ids)
    assert counts == {ident: 1 for ident in ids}, f"{sent_before} of {users} were sent before the kill"
    assert await db.fetchval("SELECT count(*) FROM notifications WHERE user_id LIKE 'kill-%'") == users


async def test_a_stale_relative_reminder_is_moved_to_the_tasks_due_date_not_fired_at_the_old_time(workers, db):
    workers()
    user = f"stale-{uuid.uuid4()}"
    task_id, reminder_id = uuid.uuid4(), uuid.uuid4()
    due = datetime.now(UTC) + timedelta(hours=1, seconds=2)
    # As if the due date moved and the reminder agent has not caught up: remind_at is from the old date.
    await db.execute("INSERT INTO tasks (id, user_id, title, due_date) VALUES ($1, $2, 'moved meanwhile', $3)",
                     task_id, user, due)
    await db.execute(
        "INSERT INTO reminders (id, user_id, task_id, remind_at, before_due) "
        "VALUES ($1, $2, $3, now() - interval '1 second', interval '1 hour')", reminder_id, user, task_id)
    assert await wait_all_sent(db, [str(reminder_id)], timeout=10) == 0
    row = await db.fetchrow("SELECT remind_at, sent_at FROM reminders WHERE id = $1", reminder_id)
    assert row["remind_at"] == due - timedelta(hours=1)
    assert row["sent_at"] >= row["remind_at"], "fired at the moved time, not the stale one"


async def test_a_worker_on_an_empty_broker_rebuilds_the_schedule_from_postgres_and_fires_on_time(
        isolated, tmp_path_factory, db):
    url, _ = isolated
    first = Worker(database_url=url, broker_url=isolated[1].url, data_dir=tmp_path_factory.mktemp("rw")).start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            api = Api(http, first.url, f"rebuilt-{uuid.uuid4()}")
            task = await api.create(title="survives a new broker")
            when = datetime.now(UTC) + timedelta(seconds=12)
            status, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                                 json_body={"remind_at": when.isoformat()})
            assert status == 201
            # Due while the new worker starts: no changelog to restore it from either.
            status, soon, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                             json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})
            assert status == 201
    finally:
        first.stop()
    # A new, empty broker: no topics, no changelog. Only Postgres knows the reminders.
    fresh = start_broker(tmp_path_factory.mktemp("fresh-broker"))
    try:
        second = Worker(database_url=url, broker_url=fresh.url, data_dir=tmp_path_factory.mktemp("rw")).start()
        try:
            ids = [reminder["id"], soon["id"]]
            assert await wait_all_sent(db, ids, timeout=30) == 0
            await asyncio.sleep(1)
            assert await covering(db, ids) == {reminder["id"]: 1, soon["id"]: 1}
            row = await db.fetchrow("SELECT remind_at, sent_at FROM reminders WHERE id = $1", uuid.UUID(reminder["id"]))
            lateness = row["sent_at"] - row["remind_at"]
            assert timedelta(0) <= lateness < timedelta(seconds=1.5), f"fired {lateness} after its time"
        finally:
            second.stop()
    finally:
        fresh.stop()
