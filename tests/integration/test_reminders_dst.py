"""Relative reminders are an exact duration before the due date, also across a DST change, whatever time
zone the database's sessions default to (here Europe/Berlin, set on a database of this module's own)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from recurring_support import sql
from stack import Api, Worker, own_database, start_broker

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
# Europe/Berlin: summer time starts 2027-03-28 at 02:00 and ends 2027-10-31 at 03:00, local time.
AFTER_SPRING_CHANGE = datetime(2027, 3, 28, 10, tzinfo=UTC)
AFTER_AUTUMN_CHANGE = datetime(2027, 10, 31, 12, tzinfo=UTC)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def berlin_database(embedded_pg):
    with own_database(embedded_pg, "berlin") as url:
        name = url.rsplit("/", 1)[1]
        embedded_pg.psql("postgres", f"ALTER DATABASE {name} SET timezone TO 'Europe/Berlin'")
        yield url


@pytest.fixture(scope="module")
def berlin_worker(berlin_database, tmp_path_factory):
    broker = start_broker(tmp_path_factory.mktemp("berlin-broker"))
    worker = Worker(database_url=berlin_database, broker_url=broker.url,
                    data_dir=tmp_path_factory.mktemp("berlin-worker"))
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()
        broker.stop()


@pytest.fixture
async def berlin_api(berlin_worker):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        yield Api(http, berlin_worker.url, f"dst-{uuid.uuid4()}")


async def test_the_database_sessions_really_default_to_berlin(berlin_database):
    rows = await sql(berlin_database, "SHOW timezone")
    assert rows[0][0] == "Europe/Berlin"


async def test_a_reminder_that_follows_a_due_date_across_a_dst_change_stays_exactly_one_day_before(berlin_api):
    api = berlin_api
    task = await api.create(title="dst", due_date=(AFTER_AUTUMN_CHANGE - 3 * DAY).isoformat())
    status, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body={"before_due": "P1D"})
    assert status == 201, reminder
    assert parse(reminder["remind_at"]) == AFTER_AUTUMN_CHANGE - 4 * DAY

    status, body, _ = await api.call("PATCH", f"/api/tasks/{task['id']}/due-date",
                                     json_body={"due_date": AFTER_AUTUMN_CHANGE.isoformat()})
    assert status == 200, body
    deadline = time.monotonic() + 15
    while True:
        _, listed, _ = await api.call("GET", f"/api/tasks/{task['id']}/reminders")
        remind_at = parse(listed["reminders"][0]["remind_at"])
        if remind_at != AFTER_AUTUMN_CHANGE - 4 * DAY or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert remind_at == AFTER_AUTUMN_CHANGE - DAY, f"moved to {remind_at}, {remind_at - (AFTER_AUTUMN_CHANGE - DAY)} off"


async def test_an_occurrence_due_just_after_a_dst_change_gets_its_reminder_exactly_one_day_before(berlin_api):
    api = berlin_api
    status, template, _ = await api.call("POST", "/api/recurring-tasks", json_body={
        "title": "dst series", "frequency": "DAILY", "start_date": AFTER_SPRING_CHANGE.isoformat(),
        "reminders": ["P1D"],
    })
    assert status == 201, template
    _, occurrences, _ = await api.call("GET", f"/api/recurring-tasks/{template['id']}/occurrences")
    task_id = occurrences["past"][0]["task_id"]
    _, listed, _ = await api.call("GET", f"/api/tasks/{task_id}/reminders")
    remind_at = parse(listed["reminders"][0]["remind_at"])
    assert remind_at == AFTER_SPRING_CHANGE - DAY, f"{remind_at - (AFTER_SPRING_CHANGE - DAY)} off"


async def test_a_due_relative_reminder_across_a_dst_change_fires_instead_of_being_moved(berlin_database):
    """The notifier re-checks a relative reminder against its task's due date: the same exact duration."""
    from db import notifications
    from db.engine import Database

    user, task_id, reminder_id = f"dst-{uuid.uuid4()}", uuid.uuid4(), uuid.uuid4()
    due = datetime(2026, 10, 25, 12, tzinfo=UTC)  # after the autumn change of 2026 (03:00 local, Oct 25)
    await sql(berlin_database, "INSERT INTO tasks (id, user_id, title, due_date) VALUES ($1, $2, 'dst', $3)",
              task_id, user, due)
    await sql(berlin_database, "INSERT INTO reminders (id, user_id, task_id, remind_at, before_due, created_at) "
                               "VALUES ($1, $2, $3, $4, $5, now())", reminder_id, user, task_id, due - DAY, DAY)
    database = Database(berlin_database)
    try:
        async with database.transaction() as session:
            delivered = await notifications.deliver_batch(session, {user: ([reminder_id], due - DAY)})
    finally:
        await database.dispose()
    assert [d.reminder_ids for d in delivered] == [[str(reminder_id)]], delivered
    rows = await sql(berlin_database, "SELECT remind_at, sent FROM reminders WHERE id = $1", reminder_id)
    assert rows[0]["sent"] is True and rows[0]["remind_at"] == due - DAY
