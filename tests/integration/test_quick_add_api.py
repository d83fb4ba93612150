"""POST /api/tasks/quick-add: one line creates a task, its reminder or a recurring series; a dry run creates nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.integration

PATH = "/api/tasks/quick-add"
BERLIN = ZoneInfo("Europe/Berlin")


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def tomorrow_at(hour: int, tz: ZoneInfo) -> datetime:
    day = datetime.now(tz).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=tz)


async def quick_add(api, text: str, *, params: dict[str, str] | None = None, **extra):
    return await api.call("POST", PATH, json_body={"text": text, **extra}, params=params)


async def test_a_line_creates_the_task_it_describes(api):
    status, body, headers = await quick_add(api, "Call mom tomorrow 5pm #family !high", time_zone="Europe/Berlin")
    assert status == 201, body
    assert body["kind"] == "task" and "recurring_task" not in body
    understood, task = body["understood"], body["task"]
    assert understood == {
        "title": "Call mom", "due_date": tomorrow_at(17, BERLIN).isoformat(), "all_day": False,
        "time_zone": "Europe/Berlin", "tags": ["family"], "priority": "HIGH", "recurrence": None,
        "repeat_from_completion": False, "remind_before_minutes": None,
    }
    assert body["summary"].startswith('"Call mom" · due ') and body["summary"].endswith("#family · high")
    assert (task["title"], task["tags"], task["priority"]) == ("Call mom", ["family"], "HIGH")
    assert instant(task["due_date"]) == tomorrow_at(17, BERLIN)
    assert headers["Location"] == f"/api/tasks/{task['id']}"
    # Stored as any task is: readable, and its history starts with the created event.
    status, stored, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert status == 200 and stored == task
    status, history, _ = await api.call("GET", f"/api/audit/tasks/{task['id']}")
    assert status == 200 and [e["event_type"] for e in history["events"]] == ["created"]


async def test_remind_me_before_creates_the_reminder_with_the_task(api):
    status, body, _ = await quick_add(api, "Call mom tomorrow 5pm remind me 30 min before")
    assert status == 201, body
    assert body["understood"]["remind_before_minutes"] == 30
    status, listed, _ = await api.call("GET", f"/api/tasks/{body['task']['id']}/reminders")
    assert status == 200
    [reminder] = listed["reminders"]
    assert reminder["before_due"] == "PT30M"
    assert instant(reminder["remind_at"]) == tomorrow_at(17, ZoneInfo("UTC")) - timedelta(minutes=30)


async def test_a_schedule_creates_a_recurring_series_and_its_first_occurrence(api):
    status, body, headers = await quick_add(api, "Pay rent every month on the last day #home !high remind me 1 "
                                                 "hour before", time_zone="Europe/Berlin")
    assert status == 201, body
    assert body["kind"] == "recurring" and "task" not in body
    template, understood = body["recurring_task"], body["understood"]
    assert understood["recurrence"]["by_month_day"] == -1 and understood["recurrence"]["frequency"] == "MONTHLY"
    assert (template["frequency"], template["by_month_day"], template["timezone"]) == ("MONTHLY", -1,
                                                                                      "Europe/Berlin")
    assert (template["title"], template["tags"], template["priority"]) == ("Pay rent", ["home"], "HIGH")
    assert template["reminders"] == ["PT1H"]
    assert instant(template["start_date"]) == instant(understood["due_date"])
    assert "every month on the last day at 09:00" in body["summary"]
    assert headers["Location"] == f"/api/recurring-tasks/{template['id']}"
    # The first occurrence is a task due on the last day of this month, 09:00 Berlin.
    status, page, _ = await api.call("GET", "/api/tasks")
    [occurrence] = page["tasks"]
    assert occurrence["recurring_task_id"] == template["id"]
    due = instant(occurrence["due_date"]).astimezone(BERLIN)
    assert (due.hour, due.minute) == (9, 0) and (due + timedelta(days=1)).day == 1


async def test_every_bang_repeats_from_completion(api):
    status, body, _ = await quick_add(api, "Water plants every! 3 days at 8am")
    assert status == 201, body
    assert body["recurring_task"]["repeat_from"] == "completion_date"
    assert body["recurring_task"]["interval"] == 3
    assert body["understood"]["repeat_from_completion"] is True


async def test_a_dry_run_answers_the_same_and_creates_nothing(api):
    for text, kind in (("Call mom tomorrow 5pm remind me 30 min before #family", "task"),
                       ("Standup every weekday at 9:30 #work", "recurring")):
        status, preview, headers = await quick_add(api, text, params={"dry_run": "true"})
        assert status == 200, preview
        assert set(preview) == {"kind", "understood", "summary"} and preview["kind"] == kind
        assert "Location" not in headers
        status, created, _ = await quick_add(api, text)
        assert status == 201
        assert {k: created[k] for k in preview} == preview
    status, page, _ = await api.call("GET", "/api/tasks")
    assert page["total"] == 2  # the task and the series' first occurrence, nothing from the dry runs
    status, templates, _ = await api.call("GET", "/api/recurring-tasks")
    assert templates["total"] == 1


@pytest.mark.parametrize(("text", "part"), [
    ("Meet every blursday", "every blursday"),
    ("Ship it !urgentest", "!urgentest"),
    ("Ping every 2 hours", "every 2 hours"),
    ("Meet next", "next"),
    ("Meet every", "every"),
    ("Call remind me 30 min before", "remind me 30 min before"),
])
async def test_what_is_not_understood_is_a_400_naming_the_part(api, text, part):
    status, body, _ = await quick_add(api, text)
    assert status == 400, body
    assert body["error"] == "validation_error"
    assert body["details"] == {"field": "text", "part": part}
    assert body["message"].startswith(f"text: {part}")
    status, page, _ = await api.call("GET", "/api/tasks")
    assert page["total"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({}, "text"),
    ({"text": 5}, "text"),
    ({"text": "x" * 1001}, "text"),
    ({"text": "#home"}, "text"),
    ({"text": "x", "due_date": "tomorrow"}, "due_date"),
    ({"text": "x", "time_zone": "Mars/Olympus"}, "time_zone"),
    ({"text": "x", "time_zone": "localtime"}, "time_zone"),
    ({"text": "x " + " ".join(f"#t{n}" for n in range(11))}, "tags"),
    ({"text": "y" * 300}, "title"),
])
async def test_bad_bodies_are_400s_naming_the_field(api, body, field):
    status, answer, _ = await api.call("POST", PATH, json_body=body)
    assert status == 400, answer
    assert answer["details"]["field"] == field


async def test_unknown_query_parameters_are_refused(api):
    status, answer, _ = await quick_add(api, "x", params={"dryrun": "true"})
    assert status == 400 and answer["details"]["field"] == "dryrun"


async def test_another_users_zone_is_never_used(api, other_api):
    status, mine, _ = await quick_add(api, "Call tomorrow 5pm", time_zone="Pacific/Auckland")
    assert status == 201 and mine["understood"]["time_zone"] == "Pacific/Auckland"
    status, theirs, _ = await quick_add(other_api, "Call tomorrow 5pm")
    assert status == 201
    assert theirs["understood"]["time_zone"] == "UTC"
    assert instant(theirs["task"]["due_date"]) == tomorrow_at(17, ZoneInfo("UTC"))


async def test_quick_add_needs_a_signed_in_user(api):
    status, body, _ = await api.call("POST", PATH, json_body={"text": "x"}, auth=False)
    assert status == 401, body


async def test_the_quick_add_route_is_not_taken_for_a_task_id(api):
    # /api/tasks/{task_id} would read "quick-add" as an id and answer 404 (or 405 for POST).
    status, body, _ = await quick_add(api, "Buy milk")
    assert status == 201 and body["task"]["title"] == "Buy milk"
    status, stored, _ = await api.call("GET", f"/api/tasks/{body['task']['id']}")
    assert status == 200


async def test_a_date_without_a_time_creates_an_all_day_task(api):
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    status, body, _ = await quick_add(api, f"Dentist {day.isoformat()}")
    assert status == 201, body
    assert body["understood"]["due_date"] == day.isoformat() and body["understood"]["all_day"] is True
    assert body["task"]["due_date"] == day.isoformat() and body["task"]["all_day"] is True
