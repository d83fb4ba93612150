"""The iCalendar feed builder: VTODOs for tasks and templates, DTSTART as the rule module names it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from itertools import islice
from types import SimpleNamespace

from dateutil.rrule import rrulestr
from icalendar import Calendar

from streams.rules.recurrence import ical_dtstart, parse_rule, slots
from web.ical import dtstart, feed

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def item(**fields):
    base = {"id": uuid.uuid4(), "title": "t", "description": None, "priority": "MEDIUM", "tags": [],
            "created_at": NOW, "updated_at": NOW, "due_date": NOW, "recurring_task_id": None}
    return SimpleNamespace(**{**base, **fields})


def test_dtstart_is_the_line_the_rule_module_names_for_utc_and_zoned_rules():
    utc = parse_rule({"frequency": "DAILY", "start_date": "2030-01-01T09:00:00Z"})
    berlin = parse_rule({"frequency": "DAILY", "start_date": "2030-07-01T09:00:00+02:00", "timezone": "Europe/Berlin"})
    for rule in (utc, berlin):
        todo = Calendar.from_ical(feed([], [(item(), rule)], now=NOW, name="x")).walk("VTODO")[0]
        line = next(ln for ln in todo.to_ical().decode().splitlines() if ln.startswith("DTSTART"))
        assert line == ical_dtstart(rule)
    assert dtstart(berlin).tzinfo.key == "Europe/Berlin"


def test_a_task_becomes_a_vtodo_with_due_priority_categories_and_its_template():
    template_id = uuid.uuid4()
    task = item(title="pay rent", priority="HIGH", tags=["home", "money"], description="by transfer",
                recurring_task_id=template_id)
    todo = Calendar.from_ical(feed([task], [], now=NOW, name="mine")).walk("VTODO")[0]
    assert str(todo["UID"]) == f"{task.id}@taskstream"
    assert (str(todo["SUMMARY"]), str(todo["DESCRIPTION"]), int(todo["PRIORITY"])) == ("pay rent", "by transfer", 1)
    assert todo["CATEGORIES"].cats == ["home", "money"]
    assert todo.decoded("DUE") == NOW
    assert str(todo["RELATED-TO"]) == f"recurring-{template_id}@taskstream"


def test_a_template_rrule_and_dtstart_give_the_rules_slots():
    rule = parse_rule({"frequency": "MONTHLY", "by_month_day": 31, "start_date": "2030-01-31T09:00:00+01:00",
                       "timezone": "Europe/Berlin", "count": 8})
    todo = Calendar.from_ical(feed([], [(item(), rule)], now=NOW, name="x")).walk("VTODO")[0]
    recurrence = rrulestr(todo["RRULE"].to_ical().decode(), dtstart=todo.decoded("DTSTART"))
    assert [at.astimezone(UTC) for at in islice(iter(recurrence), 20)] == slots(rule, limit=20)


def test_a_cron_rule_rrule_cannot_express_is_exported_without_an_rrule_but_says_so():
    # Day of month AND weekday restricted: cron means either, RRULE would mean both.
    rule = parse_rule({"cron": "0 9 1 * 1", "start_date": "2030-01-01T00:00:00Z"})
    todo = Calendar.from_ical(feed([], [(item(), rule)], now=NOW, name="x")).walk("VTODO")[0]
    assert "RRULE" not in todo
    assert str(todo["X-TASKSTREAM-CRON"]) == "0 9 1 * 1"


def test_the_calendar_names_itself_and_publishes():
    calendar = Calendar.from_ical(feed([], [], now=NOW, name="taskstream"))
    assert (str(calendar["X-WR-CALNAME"]), str(calendar["METHOD"]), str(calendar["VERSION"])) == (
        "taskstream", "PUBLISH", "2.0")
