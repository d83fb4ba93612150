"""The pending schedule is a windowed Faust table: what it holds, how it follows tasks, recurring offsets.

Against the session worker, the real broker and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from recurring_support import eventually, iso, make_template, occurrences, parse

pytestmark = pytest.mark.integration

CHANGELOG = "taskstream-reminder-schedule-changelog"


async def notifications(api) -> list[dict]:
    status, body, _ = await api.call("GET", "/api/notifications")
    assert status == 200, body
    return body["notifications"]


async def reminders_of(api, task_id: str) -> list[dict]:
    status, body, _ = await api.call("GET", f"/api/tasks/{task_id}/reminders")
    assert status == 200, body
    return body["reminders"]


async def changelog_of(read_topic, broker, user_id: str, expect: int) -> list[dict]:
    """The table's changelog records of one user: key [user_id, [window start, window end]]."""
    found = await read_topic(broker.url, CHANGELOG, expect=10_000, timeout=3, raw=True)
    mine = []
    for record in found:
        key = json.loads(record["key"])
        if key[0] == user_id:
            mine.append({"window": key[1], "value": json.loads(record["value"]) if record["value"] else None})
    assert len(mine) >= expect, f"expected {expect} changelog records of {user_id}, found {mine}"
    return mine


async def test_a_pending_reminder_sits_in_its_due_time_window_and_leaves_it_when_deleted(api, broker, read_topic):
    task = await api.create(title="renew the passport")
    at = datetime.now(UTC) + timedelta(minutes=10)
    status, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                         json_body={"remind_at": at.isoformat()})
    assert status == 201, reminder

    async def scheduled():
        records = await changelog_of(read_topic, broker, api.user_id, 0)
        return records if records else None

    records = await eventually(scheduled, timeout=10, what="the reminder in the schedule table's changelog")
    remind_at = parse(reminder["remind_at"]).timestamp()
    start = float(math.floor(remind_at))
    assert records[0]["window"] == [start, start + 0.9], "a one-second window by due time"
    assert records[0]["value"] == {reminder["id"]: [task["id"], remind_at]}

    status, _, _ = await api.call("DELETE", f"/api/reminders/{reminder['id']}")
    assert status == 204

    async def removed():
        records = await changelog_of(read_topic, broker, api.user_id, 1)
        return records if records[-1]["value"] is None else None

    records = await eventually(removed, timeout=10, what="the window's tombstone")
    assert records[-1]["window"] == [start, start + 0.9]


async def test_moving_the_due_date_moves_a_relative_reminder_and_it_fires_at_the_new_time(api):
    due = datetime.now(UTC) + timedelta(hours=1, minutes=5)
    task = await api.create(title="submit the report", due_date=due.isoformat())
    status, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body={"before_due": "PT1H"})
    assert status == 201 and parse(reminder["remind_at"]) == due - timedelta(hours=1)
    # A second task whose reminder is moved away from a time that comes soon.
    soon = datetime.now(UTC) + timedelta(hours=1, seconds=3)
    later_task = await api.create(title="moved away", due_date=soon.isoformat())
    status, moved_away, _ = await api.call("POST", f"/api/tasks/{later_task['id']}/reminders",
                                           json_body={"before_due": "PT1H"})
    assert status == 201

    new_due = datetime.now(UTC) + timedelta(hours=1, seconds=2)
    status, _, _ = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"due_date": new_due.isoformat()})
    assert status == 200
    status, _, _ = await api.call("PATCH", f"/api/tasks/{later_task['id']}",
                                  json_body={"due_date": (soon + timedelta(days=1)).isoformat()})
    assert status == 200

    found = await eventually(lambda: notifications(api), timeout=10, what="the moved reminder's notification")
    assert [n["reminder_id"] for n in found] == [reminder["id"]]
    fired = (await reminders_of(api, task["id"]))[0]
    assert parse(fired["remind_at"]) == new_due - timedelta(hours=1)
    lateness = parse(fired["sent_at"]) - parse(fired["remind_at"])
    assert timedelta(0) <= lateness < timedelta(seconds=1.5), f"delivered {lateness} after the moved time"

    await asyncio.sleep(max(0.0, (soon - timedelta(hours=1) - datetime.now(UTC)).total_seconds()) + 1.5)
    assert len(await notifications(api)) == 1, "nothing at the time the other reminder was moved away from"
    kept = (await reminders_of(api, later_task["id"]))[0]
    assert kept["id"] == moved_away["id"] and kept["sent"] is False


async def test_a_recurring_templates_reminder_offsets_reach_every_occurrence_and_fire(api):
    first_due = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1, seconds=3)
    template = await make_template(api, title="stand-up", start_date=iso(first_due), reminders=["PT1H", "P2D", "PT1H"])
    assert template["reminders"] == ["P2D", "PT1H"], "de-duplicated, furthest ahead first"
    first = (await occurrences(api, template["id"]))["past"][0]["task_id"]
    # Two days before the first occurrence is already past: only the one-hour reminder exists.
    stored = await reminders_of(api, first)
    assert [(r["before_due"], parse(r["remind_at"])) for r in stored] == [("PT1H", first_due - timedelta(hours=1))]

    found = await eventually(lambda: notifications(api), timeout=10, what="the occurrence's reminder")
    assert found[0]["title"] == "Reminder: stand-up" and found[0]["data"]["task_ids"] == [first]

    status, _, _ = await api.call("POST", f"/api/tasks/{first}/complete")
    assert status == 200

    async def second_occurrence():
        past = (await occurrences(api, template["id"]))["past"]
        return past[1]["task_id"] if len(past) > 1 else None

    second = await eventually(second_occurrence, timeout=15, what="the second occurrence")
    second_due = first_due + timedelta(days=1)
    stored = await reminders_of(api, second)
    # Two days before the second occurrence is past as well; a third one would get both.
    assert [(r["before_due"], parse(r["remind_at"])) for r in stored] == [("PT1H", second_due - timedelta(hours=1))]
    assert stored[0]["sent"] is False


@pytest.mark.parametrize("reminders", [["P1Y"], "PT1H", ["PT0S"], [7], [f"PT{n}H" for n in range(1, 7)]])
async def test_bad_template_reminder_offsets_are_a_400_naming_the_field(api, reminders):
    status, error, _ = await api.call("POST", "/api/recurring-tasks", json_body={
        "title": "x", "frequency": "DAILY", "start_date": iso(datetime.now(UTC) + timedelta(days=1)),
        "reminders": reminders,
    })
    assert status == 400, error
    assert error["details"]["field"].startswith("reminders"), error
    status, listed, _ = await api.call("GET", "/api/recurring-tasks")
    assert listed["recurring_tasks"] == [], "nothing created"
