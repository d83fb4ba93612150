"""The calendar feed shows an all-day task as a DATE (the same day in every calendar app), a timed one as an instant."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

from icalendar import Calendar

from streams.rules.all_day import day_end, parse_zone
from web.ical import feed

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def task(**fields):
    base = {"id": uuid.uuid4(), "title": "t", "description": None, "priority": "MEDIUM", "tags": [],
            "created_at": NOW, "updated_at": NOW, "due_date": NOW, "due_day": None, "recurring_task_id": None}
    return SimpleNamespace(**{**base, **fields})


def due_line(item) -> str:
    text = feed([item], [], now=NOW, name="x").decode()
    return next(line for line in text.splitlines() if line.startswith("DUE"))


def test_an_all_day_task_is_due_on_a_date_value():
    day = date(2030, 1, 4)
    item = task(due_day=day, due_date=day_end(day, parse_zone("Pacific/Auckland")))
    assert due_line(item) == "DUE;VALUE=DATE:20300104"
    assert Calendar.from_ical(feed([item], [], now=NOW, name="x")).walk("VTODO")[0].decoded("DUE") == day


def test_a_timed_task_is_still_due_at_a_utc_instant():
    assert due_line(task()) == "DUE:20300101T120000Z"
