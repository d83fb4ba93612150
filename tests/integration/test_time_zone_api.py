"""The user's time zone (GET/PUT /api/settings) and all-day tasks, against a real worker, PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.integration

BERLIN = ZoneInfo("Europe/Berlin")
LEAD = timedelta(seconds=2)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def set_zone(api, name: str) -> dict:
    status, body, _ = await api.call("PUT", "/api/settings", json_body={"time_zone": name})
    assert status == 200, body
    return body


async def listed(api, **params: str) -> list[dict]:
    status, body, _ = await api.call("GET", "/api/tasks", params=params)
    assert status == 200, body
    return body["tasks"]


def titles(tasks: list[dict]) -> set[str]:
    return {t["title"] for t in tasks}


async def test_settings_start_at_utc_and_round_trip_a_time_zone(api):
    status, body, _ = await api.call("GET", "/api/settings")
    assert status == 200 and body == {"time_zone": "UTC", "updated_at": None}
    saved = await set_zone(api, "Europe/Berlin")
    assert saved["time_zone"] == "Europe/Berlin" and saved["updated_at"].endswith("Z")
    _, again, _ = await api.call("GET", "/api/settings")
    assert again == saved


@pytest.mark.parametrize("body, field", [
    ({"time_zone": "Mars/Base"}, "time_zone"),
    ({"time_zone": "CEST"}, "time_zone"),
    ({"time_zone": ""}, "time_zone"),
    ({"time_zone": 2}, "time_zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone"),
    ({}, "time_zone"),
    ({"time_zone": "UTC", "locale": "de"}, "locale"),
])
async def test_a_bad_time_zone_answers_400_naming_the_field_with_an_example(api, body, field):
    status, error, _ = await api.call("PUT", "/api/settings", json_body=body)
    assert status == 400 and error["error"] == "validation_error" and error["details"]["field"] == field
    if field == "time_zone":
        assert "Europe/Berlin" in error["message"]
    _, settings, _ = await api.call("GET", "/api/settings")
    assert settings["time_zone"] == "UTC", "a refused change changes nothing"


async def test_a_date_alone_makes_an_all_day_task_through_create_get_patch_and_list(api):
    await set_zone(api, "Europe/Berlin")
    task = await api.create(title="pay rent", due_date="2026-12-11")
    assert task["due_date"] == "2026-12-11" and task["all_day"] is True
    _, fetched, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert fetched == task
    assert [t["due_date"] for t in await listed(api)] == ["2026-12-11"]

    status, timed, _ = await api.call("PATCH", f"/api/tasks/{task['id']}",
                                      json_body={"due_date": "2026-12-11T09:00:00+01:00"})
    assert status == 200 and timed["due_date"] == "2026-12-11T08:00:00Z" and timed["all_day"] is False
    status, day, _ = await api.call("PATCH", f"/api/tasks/{task['id']}/due-date", json_body={"due_date": "2026-12-12"})
    assert status == 200 and (day["due_date"], day["all_day"]) == ("2026-12-12", True)
    status, cleared, _ = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"due_date": None})
    assert status == 200 and (cleared["due_date"], cleared["all_day"]) == (None, False)

    status, error, _ = await api.call("POST", "/api/tasks", json_body={"title": "x", "due_date": "2026-02-30"})
    assert status == 400 and error["details"]["field"] == "due_date"


async def test_an_all_day_task_sorts_after_that_days_timed_tasks_and_keeps_its_day_when_the_zone_changes(api):
    await set_zone(api, "Europe/Berlin")
    await api.create(title="next morning", due_date="2026-12-12T00:30:00+01:00")
    await api.create(title="all day", due_date="2026-12-11")
    await api.create(title="evening", due_date="2026-12-11T21:00:00+01:00")
    by_due = await listed(api, sort_by="due_date")
    assert [t["title"] for t in by_due] == ["evening", "all day", "next morning"]
    assert titles(await listed(api, filter="due:2026-12-11")) == {"evening", "all day"}

    await set_zone(api, "America/New_York")
    assert [t["due_date"] for t in await listed(api) if t["title"] == "all day"] == ["2026-12-11"]
    # In New York, 21:00 Berlin is 15:00 and 00:30 Berlin the evening before: all three fall on the 11th,
    # the all-day task last, as that day now ends in New York.
    assert titles(await listed(api, filter="due:2026-12-11")) == {"evening", "all day", "next morning"}
    assert [t["title"] for t in await listed(api, sort_by="due_date")] == ["evening", "next morning", "all day"]
    assert titles(await listed(api, filter="due:2026-12-11", tz="Europe/Berlin")) == {"evening"}, (
        "an explicit tz wins; the all-day task now ends with New York's day, after Berlin's 11th")


def far_zone(now: datetime) -> ZoneInfo:
    """A zone whose date differs from UTC's right now: a day ahead or a day behind."""
    return ZoneInfo("Pacific/Kiritimati") if now.hour >= 10 else ZoneInfo("Pacific/Pago_Pago")


async def test_today_and_overdue_follow_the_users_zone_and_an_all_day_task_is_overdue_only_after_its_day(api):
    now = datetime.now(UTC)
    zone = far_zone(now)
    await set_zone(api, zone.key)
    local_today = now.astimezone(zone).date()
    assert local_today != now.date()
    yesterday = local_today - timedelta(days=1)
    await api.create(title="local today", due_date=local_today.isoformat())
    await api.create(title="local yesterday", due_date=yesterday.isoformat())
    await api.create(title="utc today", due_date=now.date().isoformat())
    # A timed task one hour ago is overdue in every zone.
    await api.create(title="an hour ago", due_date=(now - timedelta(hours=1)).isoformat())

    utc_today_is_past = now.date() < local_today
    assert titles(await listed(api, filter="due:today")) == {"local today"} | (
        set() if utc_today_is_past else {"utc today"}) | (
        {"an hour ago"} if (now - timedelta(hours=1)).astimezone(zone).date() == local_today else set())
    overdue = {"local yesterday", "an hour ago"} | ({"utc today"} if utc_today_is_past else set())
    assert titles(await listed(api, filter="overdue")) == overdue
    assert titles(await listed(api, overdue="true")) == overdue
    assert "local today" not in titles(await listed(api, filter="overdue")), "its day has not ended there yet"


async def test_a_reminder_text_shows_the_due_time_in_the_users_zone(api):
    await set_zone(api, "Europe/Berlin")
    now = datetime.now(UTC)
    due = (now + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)  # 09:00 in Berlin
    timed = await api.create(title="dentist", due_date=due.isoformat())
    day = now.astimezone(BERLIN).date() + timedelta(days=4)
    all_day = await api.create(title="tax return", due_date=day.isoformat())
    for task in (timed, all_day):
        status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                         json_body={"remind_at": (datetime.now(UTC) + LEAD).isoformat()})
        assert status == 201, body
    notes = await wait_for_notifications(api)
    bodies = sorted(n["body"] for n in notes)
    local = due.astimezone(BERLIN)
    on = f"{local:%a} {local.day} {local:%b}{year(local.date(), now)}"
    expected_timed = f"- dentist (due {on} at 09:00 Europe/Berlin)"
    expected_day = f"- tax return (due {day:%a} {day.day} {day:%b}{year(day, now)})"
    if len(notes) == 1:  # both reminders fell in one batch
        assert sorted(bodies[0].splitlines()) == sorted([expected_timed, expected_day])
    else:
        assert bodies == sorted([
            f"dentist is due {on} at 09:00 (Europe/Berlin)",
            f"tax return is due {day:%a} {day.day} {day:%b}{year(day, now)}",
        ])


def year(day: date, now: datetime) -> str:
    return "" if day.year == now.astimezone(BERLIN).year else f" {day.year}"


async def wait_for_notifications(api, *, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        _, body, _ = await api.call("GET", "/api/notifications")
        found = body["notifications"]
        reminders = sum(len(n["data"]["reminder_ids"]) for n in found)
        if reminders >= 2 or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_changing_the_zone_moves_an_all_day_tasks_relative_reminders_with_its_day(api):
    await set_zone(api, "Europe/Berlin")
    day = datetime.now(UTC).date() + timedelta(days=10)
    task = await api.create(title="renew passport", due_date=day.isoformat())
    status, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body={"before_due": "PT1H"})
    assert status == 201, reminder
    assert parse(reminder["remind_at"]).astimezone(BERLIN).replace(tzinfo=None) == datetime.combine(
        day, datetime.min.time()).replace(hour=22, minute=59, second=59, microsecond=999999)

    await set_zone(api, "America/New_York")
    _, after, _ = await api.call("GET", f"/api/tasks/{task['id']}/reminders")
    moved = parse(after["reminders"][0]["remind_at"]).astimezone(ZoneInfo("America/New_York"))
    assert (moved.date(), moved.hour, moved.minute) == (day, 22, 59)
    _, unchanged, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert (unchanged["due_date"], unchanged["version"]) == (day.isoformat(), 1)


async def test_the_calendar_feed_shows_an_all_day_task_as_a_date(api):
    await set_zone(api, "Asia/Tokyo")
    await api.create(title="all day", due_date="2030-01-04")
    await api.create(title="timed", due_date="2030-01-04T09:00:00+09:00")
    status, body, _ = await api.call("GET", "/api/calendar.ics")
    assert status == 200
    lines = body.replace("\r\n ", "").splitlines()
    assert "DUE;VALUE=DATE:20300104" in lines
    assert "DUE:20300104T000000Z" in lines
