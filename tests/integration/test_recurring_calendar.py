"""The iCalendar feed: open tasks as VTODOs, templates with an RRULE that round-trips, secret feed URLs."""

from __future__ import annotations

from datetime import UTC, timedelta
from itertools import islice

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar
from recurring_support import iso, make_template, tomorrow_at

from streams.rules.recurrence import parse_rule, slots

pytestmark = pytest.mark.integration

RULES = [
    {"frequency": "MONTHLY", "start_date": "2030-01-31T09:00:00+01:00", "timezone": "Europe/Berlin"},
    {"frequency": "WEEKLY", "by_weekday": ["TU", "TH"], "interval": 2, "start_date": "2030-03-01T18:30:00-05:00",
     "timezone": "America/New_York", "count": 9},
    {"frequency": "MONTHLY", "by_nth_weekday": "last FR", "start_date": "2030-01-01T08:00:00Z",
     "end_date": "2031-06-30"},
    {"frequency": "YEARLY", "start_date": "2032-02-29T07:00:00+00:00"},
    {"cron": "15 6 * * 1-5", "start_date": "2030-01-01T00:00:00+09:00", "timezone": "Asia/Tokyo"},
    {"rrule": "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1", "start_date": "2030-01-01T12:00:00Z"},
]


async def feed(api, path: str = "/api/calendar.ics", *, auth: bool = True) -> Calendar:
    status, body, headers = await api.call("GET", path, auth=auth)
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(body)


def todos(calendar: Calendar) -> dict[str, object]:
    return {str(todo["UID"]): todo for todo in calendar.walk("VTODO")}


async def test_the_feed_lists_open_tasks_with_due_dates_and_nothing_else(api):
    due = tomorrow_at(17)
    listed = await api.create(title="file taxes", due_date=iso(due), priority="high", tags=["money"],
                              description="before the deadline")
    await api.create(title="no due date")
    done = await api.create(title="already done", due_date=iso(due))
    await api.call("POST", f"/api/tasks/{done['id']}/complete")

    items = todos(await feed(api))
    assert set(items) == {f"{listed['id']}@taskstream"}
    todo = items[f"{listed['id']}@taskstream"]
    assert str(todo["SUMMARY"]) == "file taxes" and str(todo["DESCRIPTION"]) == "before the deadline"
    assert todo.decoded("DUE") == due
    assert int(todo["PRIORITY"]) == 1 and str(todo["STATUS"]) == "NEEDS-ACTION"
    assert todo["CATEGORIES"].cats == ["money"]


async def test_templates_carry_an_rrule_that_gives_the_same_due_times_as_the_rule(api):
    templates = [await make_template(api, title=f"rule {i}", **rule) for i, rule in enumerate(RULES)]
    items = todos(await feed(api))
    for rule, template in zip(RULES, templates):
        todo = items[f"recurring-{template['id']}@taskstream"]
        dtstart = todo.decoded("DTSTART")
        expected = slots(parse_rule(rule), limit=12)
        recurrence = rrulestr(todo["RRULE"].to_ical().decode(), dtstart=dtstart)
        got = [at.astimezone(UTC) for at in islice(iter(recurrence), 12)]
        assert got == expected, (rule, todo["RRULE"].to_ical())
    # Each occurrence's own VTODO points at its template.
    occurrence = next(t for uid, t in items.items() if not uid.startswith("recurring-") and "RELATED-TO" in t)
    assert str(occurrence["RELATED-TO"]).startswith("recurring-")


async def test_the_feed_includes_the_time_zones_its_start_dates_name(api):
    await make_template(api, **RULES[0])
    calendar = await feed(api)
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} == {"Europe/Berlin"}


async def test_paused_and_ended_templates_are_left_out(api):
    kept = await make_template(api, title="kept")
    paused = await make_template(api, title="paused")
    await api.call("POST", f"/api/recurring-tasks/{paused['id']}/pause")
    uids = set(todos(await feed(api)))
    assert f"recurring-{kept['id']}@taskstream" in uids
    assert f"recurring-{paused['id']}@taskstream" not in uids


async def test_a_secret_feed_url_works_without_a_header_until_it_is_rotated_or_revoked(api, other_api):
    task = await api.create(title="dentist", due_date=iso(tomorrow_at(10)))
    status, created, _ = await api.call("POST", "/api/calendar/token")
    assert status == 201, created
    path = created["path"]
    assert created["url"].endswith(path) and path.startswith("/calendar/") and path.endswith(".ics")

    calendar = await feed(api, path, auth=False)
    assert f"{task['id']}@taskstream" in todos(calendar)

    _, rotated, _ = await api.call("POST", "/api/calendar/token")
    assert rotated["path"] != path
    status, error, _ = await api.call("GET", path, auth=False)
    assert status == 404 and error["error"] == "not_found", "the old URL stops working"
    assert f"{task['id']}@taskstream" in todos(await feed(api, rotated["path"], auth=False))

    status, _, _ = await api.call("DELETE", "/api/calendar/token")
    assert status == 204
    status, _, _ = await api.call("GET", rotated["path"], auth=False)
    assert status == 404
    status, _, _ = await api.call("DELETE", "/api/calendar/token")
    assert status == 404


async def test_feeds_are_per_user_and_guessed_or_malformed_secrets_find_nothing(api, other_api):
    mine = await api.create(title="mine", due_date=iso(tomorrow_at(10)))
    _, created, _ = await other_api.call("POST", "/api/calendar/token")
    assert f"{mine['id']}@taskstream" not in todos(await feed(other_api, created["path"], auth=False))
    assert f"{mine['id']}@taskstream" not in todos(await feed(other_api))
    for path in ("/calendar/" + "A" * 43 + ".ics", "/calendar/short.ics", "/calendar/..%2F..%2Fetc.ics"):
        status, _, _ = await api.call("GET", path, auth=False)
        assert status == 404, path
    status, error, _ = await api.call("GET", "/api/calendar.ics", auth=False)
    assert status == 401 and error["error"] == "unauthorized"


async def test_the_feed_shows_a_task_due_date_change(api):
    task = await api.create(title="moving", due_date=iso(tomorrow_at(10)))
    later = tomorrow_at(10) + timedelta(days=3)
    await api.call("PATCH", f"/api/tasks/{task['id']}/due-date", json_body={"due_date": iso(later)})
    todo = todos(await feed(api))[f"{task['id']}@taskstream"]
    assert todo.decoded("DUE") == later
