"""Reminders fire on time, once, batched per user, and never for finished tasks (session worker, real broker)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from streams.schemas import validator

pytestmark = pytest.mark.integration

LEAD = timedelta(seconds=2)  # how far ahead reminders are set: enough for the request to land first


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def remind(api, task_id: str, when: datetime) -> dict:
    status, body, _ = await api.call("POST", f"/api/tasks/{task_id}/reminders", json_body={"remind_at": when.isoformat()})
    assert status == 201, body
    return body


async def notifications(api, **params) -> list[dict]:
    status, body, _ = await api.call("GET", "/api/notifications", params=params or None)
    assert status == 200, body
    return body["notifications"]


async def wait_for_notifications(api, count: int, *, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = await notifications(api)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def sleep_until(when: datetime) -> None:
    await asyncio.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()))


async def test_a_reminder_fires_within_a_second_of_its_time_and_is_pushed_to_task_updates(api, broker, read_topic):
    due = datetime.now(UTC) + timedelta(hours=1)
    task = await api.create(title="call the bank", due_date=due.isoformat())
    reminder = await remind(api, task["id"], datetime.now(UTC) + LEAD)

    found = await wait_for_notifications(api, 1)
    assert len(found) == 1
    note = found[0]
    assert note["kind"] == "reminder" and note["title"] == "Reminder: call the bank"
    assert note["reminder_id"] == reminder["id"] and note["read"] is False
    assert note["data"]["task_ids"] == [task["id"]]

    _, listed, _ = await api.call("GET", f"/api/tasks/{task['id']}/reminders")
    sent = listed["reminders"][0]
    assert sent["sent"] is True
    lateness = parse(sent["sent_at"]) - parse(sent["remind_at"])
    assert timedelta(0) <= lateness < timedelta(seconds=1.5), f"delivered {lateness} after remind_at"

    updates = await read_topic(broker.url, "task-updates", key=api.user_id, expect=2, timeout=10)
    pushed = [u["value"] for u in updates if u["value"]["type"] == "notification.created"]
    assert len(pushed) == 1 and pushed[0]["notification"]["id"] == note["id"] and pushed[0]["occurred_at"]
    validator("notification-update.json").validate(pushed[0])

    messages = await read_topic(broker.url, "reminders", key=api.user_id, expect=1, timeout=5)
    window = messages[0]["value"]
    assert window["user_id"] == api.user_id
    assert window["reminders"] == [{"reminder_id": reminder["id"], "task_id": task["id"],
                                    "remind_at": reminder["remind_at"]}]
    assert parse(window["window_start"]) <= parse(reminder["remind_at"]) < parse(window["window_start"]) + timedelta(
        seconds=1)
    validator("reminder.json").validate(messages[0]["value"])


async def test_reminders_due_together_become_one_notification(api):
    due = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    tasks = [await api.create(title=f"task {n}", due_date=due.isoformat()) for n in range(3)]
    when = datetime.now(UTC) + LEAD
    reminders = [await remind(api, task["id"], when) for task in tasks]

    await sleep_until(when + timedelta(seconds=1.5))
    found = await wait_for_notifications(api, 1)
    assert len(found) == 1, [n["title"] for n in found]
    # The date shows when the due time is not on the day the reminder fired (after 22:00 UTC here).
    year = "" if due.year == when.year else f" {due.year}"
    day = "" if due.date() == when.date() else f"{due:%a} {due.day} {due:%b}{year} "
    assert found[0]["title"] == f"3 tasks due {day}at {due:%H:%M} UTC"
    assert sorted(found[0]["data"]["reminder_ids"]) == sorted(r["id"] for r in reminders)
    _, upcoming, _ = await api.call("GET", "/api/reminders", params={"upcoming": "true"})
    assert upcoming["reminders"] == []


async def test_reminders_of_a_completed_or_deleted_task_never_fire(api):
    done, gone, open_task = [await api.create(title=t) for t in ("done", "gone", "open")]
    when = datetime.now(UTC) + LEAD
    for task in (done, gone):
        await remind(api, task["id"], when)
    await remind(api, open_task["id"], when + timedelta(seconds=1.5))  # marks the moment to stop waiting
    await api.call("POST", f"/api/tasks/{done['id']}/complete")
    await api.call("DELETE", f"/api/tasks/{gone['id']}")

    found = await wait_for_notifications(api, 1)
    await asyncio.sleep(0.5)
    found = await notifications(api)
    assert [n["title"] for n in found] == ["Reminder: open"]


async def test_a_relative_reminder_fires_at_the_moved_due_date(api):
    due = datetime.now(UTC) + timedelta(hours=1, minutes=10)
    task = await api.create(title="moved", due_date=due.isoformat())
    status, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body={"before_due": "PT1H"})
    assert status == 201
    new_due = datetime.now(UTC) + timedelta(hours=1) + LEAD
    await api.call("PATCH", f"/api/tasks/{task['id']}/due-date", json_body={"due_date": new_due.isoformat()})

    found = await wait_for_notifications(api, 1)
    assert [n["reminder_id"] for n in found] == [reminder["id"]]
    _, listed, _ = await api.call("GET", f"/api/tasks/{task['id']}/reminders")
    sent = listed["reminders"][0]
    assert parse(sent["remind_at"]) == new_due - timedelta(hours=1)
    assert parse(sent["sent_at"]) - parse(sent["remind_at"]) < timedelta(seconds=1.5)


async def test_a_replayed_reminder_message_does_not_notify_twice(api, broker):
    from aiokafka import AIOKafkaProducer

    task = await api.create(title="once")
    reminder = await remind(api, task["id"], datetime.now(UTC) + LEAD)
    assert len(await wait_for_notifications(api, 1)) == 1

    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        value = json.dumps({"reminder_id": reminder["id"], "task_id": task["id"], "remind_at": reminder["remind_at"]})
        for _ in range(3):
            await producer.send_and_wait("reminders", value.encode(), key=api.user_id.encode())
        # a second reminder after the replays: once it is notified, the replays have been handled too
        marker = await remind(api, task["id"], datetime.now(UTC) + timedelta(seconds=1))
    finally:
        await producer.stop()
    found = await wait_for_notifications(api, 2)
    assert sorted(n["reminder_id"] for n in found) == sorted([reminder["id"], marker["id"]])


async def test_notifications_can_be_read_snoozed_and_all_marked_read(api, other_api):
    tasks = [await api.create(title=f"n{n}") for n in range(2)]
    await remind(api, tasks[0]["id"], datetime.now(UTC) + timedelta(seconds=1))
    await remind(api, tasks[1]["id"], datetime.now(UTC) + timedelta(seconds=1) + timedelta(minutes=2))
    first = (await wait_for_notifications(api, 1))[0]

    status, _, _ = await other_api.call("POST", f"/api/notifications/{first['id']}/read")
    assert status == 404, "another user's notification"
    status, snoozed, _ = await api.call("POST", f"/api/notifications/{first['id']}/snooze", json_body={"minutes": 5})
    assert status == 200 and snoozed["read"] is False
    assert parse(snoozed["snoozed_until"]) > datetime.now(UTC) + timedelta(minutes=4)
    assert await notifications(api, unread="true") == []
    assert [n["id"] for n in await notifications(api, unread="false")] == [first["id"]]

    status, read, _ = await api.call("POST", f"/api/notifications/{first['id']}/read")
    assert status == 200 and read["read"] is True and read["read_at"]
    status, body, _ = await api.call("POST", "/api/notifications/read-all")
    assert status == 200 and body == {"marked_read": 0}
