"""Todoist CSV rows: which dates, repeats, priorities and labels map, and what a skipped row says."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from streams.rules import todoist
from streams.rules.recurrence import parse_rule

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
HEADER = ",".join(todoist.COLUMNS)


def row(content="Task", *, priority="4", date="", tz="", kind="task", lang="en") -> todoist.Item | None:
    [parsed] = todoist.read(f"{HEADER}\n{kind},{content},,{priority},1,Ann,,{date},{lang},{tz},,\n")
    return todoist.convert(parsed, now=NOW)


@pytest.mark.parametrize("text, expected", [
    ("2026-12-11", "2026-12-11T00:00:00+00:00"),
    ("2026-12-11 10:00", "2026-12-11T10:00:00+00:00"),
    ("Dec 11", "2026-12-11T00:00:00+00:00"),
    ("December 11, 2027 at 5pm", "2027-12-11T17:00:00+00:00"),
    ("11 Jan", "2027-01-11T00:00:00+00:00"),  # the next Jan 11
    ("Dec 2", "2026-12-02T00:00:00+00:00"),  # today is not yet past
    ("Sept 3 12am", "2027-09-03T00:00:00+00:00"),
])
def test_absolute_dates_map_to_utc_and_a_year_less_date_is_the_next_one(text, expected):
    assert todoist.due_date(text, ZoneInfo("UTC"), today=NOW.date()).isoformat() == expected


def test_a_date_is_read_in_the_rows_time_zone():
    item = row(date="2026-07-01 09:30", tz="Europe/Berlin")
    assert item.fields["due_date"] == datetime(2026, 7, 1, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("every day", {"frequency": "DAILY", "interval": 1}),
    ("daily", {"frequency": "DAILY"}),
    ("every other week", {"frequency": "WEEKLY", "interval": 2}),
    ("every 3 months", {"frequency": "MONTHLY", "interval": 3}),
    ("every year", {"frequency": "YEARLY", "interval": 1}),
    ("every weekday", {"frequency": "WEEKLY", "by_weekday": ["MO", "TU", "WE", "TH", "FR"]}),
    ("every fri, mon and wed", {"frequency": "WEEKLY", "by_weekday": ["MO", "WE", "FR"]}),
    ("every 15th", {"frequency": "MONTHLY", "by_month_day": 15}),
    ("every! 2 days", {"frequency": "DAILY", "interval": 2, "repeat_from": "completion_date"}),
])
def test_repeats_become_rules_the_recurring_api_accepts(text, expected):
    rule = todoist.repeat(text, "Europe/Berlin", today=NOW.date())
    assert {k: rule[k] for k in expected} == expected
    assert rule["start_date"] == "2026-12-02T00:00:00+01:00" and rule["timezone"] == "Europe/Berlin"
    parse_rule(rule)


def test_a_repeat_keeps_its_time_of_day():
    rule = todoist.repeat("every day at 9:30pm", "UTC", today=NOW.date())
    assert rule["start_date"] == "2026-12-02T21:30:00+00:00"


@pytest.mark.parametrize("text", ["tomorrow", "next monday", "every 3rd friday", "every last day", "in 2 weeks"])
def test_relative_and_unsupported_dates_are_skipped_saying_what_maps(text):
    item = row(date=text)
    assert item.reason.startswith(f"DATE {text!r} is not a date this import understands")
    assert "every day" in item.reason


def test_priorities_map_p1_to_high_and_labels_become_tags():
    item = row("Pay @home rent @Finance", priority="1")
    assert item.fields == {"title": "Pay rent", "priority": "HIGH", "tags": ["home", "Finance"]}
    assert [row(priority=p).fields["priority"] for p in ("2", "3", "4", "")] == ["MEDIUM", "LOW", "LOW", "LOW"]


@pytest.mark.parametrize("kwargs, reason", [
    ({"priority": "7"}, "PRIORITY must be 1 (highest) to 4"),
    ({"content": "@only @labels"}, "no title"),
    ({"date": "Feb 30"}, "not a calendar date"),
    ({"date": "25:00 dec 1"}, "not a date this import understands"),
    ({"date": "Dec 1", "tz": "Mars/Base"}, "not an IANA time zone"),
    ({"date": "1 déc", "lang": "fr"}, "only English dates"),
    ({"kind": "section"}, "section"),
    ({"kind": "note"}, "comment"),
    ({"kind": "folder"}, "TYPE 'folder'"),
])
def test_rows_that_do_not_map_say_why(kwargs, reason):
    assert reason in row(**kwargs).reason


def test_rows_know_their_line_across_blank_lines_and_quoted_line_breaks():
    rows = todoist.read(f'{HEADER}\ntask,"two\nlines",,,,,,,,,,\n\n,,,,,,,,,,,\ntask,after,,,,,,,,,,\n')
    assert [(r.line, r.get("CONTENT")) for r in rows] == [(2, "two\nlines"), (6, "after")]
    assert rows[0].key != rows[1].key


def test_a_file_without_the_todoist_columns_is_refused_as_a_whole():
    with pytest.raises(todoist.TodoistError, match="no TYPE or CONTENT column"):
        todoist.read("title,due\nx,y\n")
