"""Reminder and notification routes: validation, ownership, listing, and reminders following their task."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration


def at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def eventually(check, *, timeout: float = 10, interval: float = 0.1):
    """Poll `check()` until it returns something truthy (or fail with its last value)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


async def test_absolute_reminder_is_created_listed_and_deleted(api):
    task = await api.create(title="pay rent")
    when = at(timedelta(hours=2))
    status, reminder, headers = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                               json_body={"remind_at": when})
    assert status == 201, reminder
    assert set(reminder) == {"id", "task_id", "remind_at", "before_due", "sent", "sent_at", "created_at"}
    assert reminder["task_id"] == task["id"] and reminder["before_due"] is None
    assert reminder["sent"] is False and reminder["sent_at"] is None
    assert parse(reminder["remind_at"]) == parse(when).replace(microsecond=parse(when).microsecond)
    assert headers["Location"] == f"/api/reminders/{reminder['id']}"

    status, listed, _ = await api.call("GET", f"/api/tasks/{task['id']}/reminders")
    assert status == 200 and [r["id"] for r in listed["reminders"]] == [reminder["id"]]

    status, _, _ = await api.call("DELETE", f"/api/reminders/{reminder['id']}")
    assert status == 204
    status, listed, _ = await api.call("GET", f"/api/tasks/{task['id']}/reminders")
    assert listed["reminders"] == []
    status, _, _ = await api.call("DELETE", f"/api/reminders/{reminder['id']}")
    assert status == 404


async def test_relative_reminder_counts_back_from_the_due_date(api):
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    task = await api.create(title="report", due_date=due.isoformat())
    status, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                         json_body={"before_due": "PT1H30M"})
    assert status == 201, reminder
    assert reminder["before_due"] == "PT1H30M"
    assert parse(reminder["remind_at"]) == due - timedelta(minutes=90)


async def test_relative_reminder_without_a_due_date_is_a_400_naming_before_due(api):
    task = await api.create(title="someday")
    status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body={"before_due": "PT1H"})
    assert status == 400 and body["details"]["field"] == "before_due"
    assert "due date" in body["message"]


@pytest.mark.parametrize("body, field", [
    ({}, "remind_at"),
    ({"remind_at": at(timedelta(hours=1)), "before_due": "PT1H"}, "remind_at"),
    ({"remind_at": "2030-01-01T10:00:00"}, "remind_at"),  # no offset
    ({"remind_at": "tomorrow"}, "remind_at"),
    ({"remind_at": "2001-01-01T10:00:00Z"}, "remind_at"),  # past
    ({"before_due": "1 hour"}, "before_due"),
    ({"before_due": "P1M"}, "before_due"),  # months have no fixed length
    ({"before_due": "PT0S"}, "before_due"),
    ({"before_due": 3600}, "before_due"),
    ({"remind_at": at(timedelta(hours=1)), "snooze": 1}, "snooze"),
])
async def test_invalid_reminder_bodies_are_400_naming_the_field(api, body, field):
    task = await api.create(title="t", due_date=at(timedelta(days=2)))
    status, answer, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body=body)
    assert status == 400, answer
    assert answer["error"] == "validation_error" and answer["details"]["field"] == field


async def test_relative_reminder_already_past_is_a_400(api):
    task = await api.create(title="soon", due_date=at(timedelta(minutes=10)))
    status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body={"before_due": "PT1H"})
    assert status == 400 and body["details"]["field"] == "before_due"


async def test_a_completed_task_takes_no_reminders(api):
    task = await api.create(title="done")
    await api.call("POST", f"/api/tasks/{task['id']}/complete")
    status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                     json_body={"remind_at": at(timedelta(hours=1))})
    assert status == 409 and body["error"] == "conflict"


async def test_another_users_task_and_reminder_are_404(api, other_api):
    task = await api.create(title="mine")
    _, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                    json_body={"remind_at": at(timedelta(hours=1))})
    for method, path, body in [
        ("POST", f"/api/tasks/{task['id']}/reminders", {"remind_at": at(timedelta(hours=1))}),
        ("GET", f"/api/tasks/{task['id']}/reminders", None),
        ("DELETE", f"/api/reminders/{reminder['id']}", None),
        ("DELETE", "/api/reminders/not-a-uuid", None),
        ("GET", f"/api/tasks/{uuid.uuid4()}/reminders", None),
    ]:
        status, answer, _ = await other_api.call(method, path, json_body=body)
        assert status == 404, (method, path, answer)
    _, upcoming, _ = await other_api.call("GET", "/api/reminders", params={"upcoming": "true"})
    assert upcoming["reminders"] == []


async def test_upcoming_lists_the_users_next_unsent_reminders_across_tasks_soonest_first(api):
    first, second = await api.create(title="a"), await api.create(title="b")
    later = await api.call("POST", f"/api/tasks/{first['id']}/reminders", json_body={"remind_at": at(timedelta(hours=3))})
    sooner = await api.call("POST", f"/api/tasks/{second['id']}/reminders",
                            json_body={"remind_at": at(timedelta(hours=1))})
    status, body, _ = await api.call("GET", "/api/reminders", params={"upcoming": "true", "limit": "1"})
    assert status == 200 and [r["id"] for r in body["reminders"]] == [sooner[1]["id"]]
    _, body, _ = await api.call("GET", "/api/reminders", params={"upcoming": "true"})
    assert [r["id"] for r in body["reminders"]] == [sooner[1]["id"], later[1]["id"]]
    status, body, _ = await api.call("GET", "/api/reminders", params={"limit": "0"})
    assert status == 400 and body["details"]["field"] == "limit"


async def test_relative_reminders_move_when_the_due_date_moves(api):
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    task = await api.create(title="moving", due_date=due.isoformat())
    _, relative, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body={"before_due": "PT1H"})
    fixed_at = due - timedelta(hours=5)
    _, fixed, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                 json_body={"remind_at": fixed_at.isoformat()})
    new_due = due + timedelta(days=2)
    status, _, _ = await api.call("PATCH", f"/api/tasks/{task['id']}/due-date",
                                  json_body={"due_date": new_due.isoformat()})
    assert status == 200

    async def moved():
        _, body, _ = await api.call("GET", f"/api/tasks/{task['id']}/reminders")
        times = {r["id"]: parse(r["remind_at"]) for r in body["reminders"]}
        return times if times[relative["id"]] == new_due - timedelta(hours=1) else None

    times = await eventually(moved)
    assert times, "the relative reminder did not follow the due date"
    assert times[fixed["id"]] == fixed_at, "an absolute reminder stays where it was"


async def test_completing_or_deleting_a_task_drops_its_reminders(api):
    done, gone = await api.create(title="to finish"), await api.create(title="to delete")
    for task in (done, gone):
        await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body={"remind_at": at(timedelta(hours=1))})
    await api.call("POST", f"/api/tasks/{done['id']}/complete")
    await api.call("DELETE", f"/api/tasks/{gone['id']}")

    async def dropped():
        _, body, _ = await api.call("GET", "/api/reminders", params={"upcoming": "true"})
        return body["reminders"] == []

    assert await eventually(dropped), "a finished task's reminders are still pending"


async def test_notification_routes_answer_404_for_unknown_ids_and_validate_snooze(api):
    ident = uuid.uuid4()
    status, body, _ = await api.call("POST", f"/api/notifications/{ident}/read")
    assert status == 404
    status, body, _ = await api.call("POST", f"/api/notifications/{ident}/snooze", json_body={"minutes": 10})
    assert status == 404
    for minutes in (0, 1441, "5", True, None):
        status, body, _ = await api.call("POST", f"/api/notifications/{ident}/snooze", json_body={"minutes": minutes})
        assert status == 400 and body["details"]["field"] == "minutes"
    status, body, _ = await api.call("GET", "/api/notifications", params={"unread": "true"})
    assert status == 200 and body["notifications"] == []
    status, body, _ = await api.call("POST", "/api/notifications/read-all")
    assert status == 200 and body == {"marked_read": 0}
