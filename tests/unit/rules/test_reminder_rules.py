"""Reminder maths: durations, relative times, batching and lateness wording, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.rules.reminders import (
    DueReminder,
    DurationError,
    batch_message,
    format_duration,
    lateness_note,
    parse_duration,
    remind_at_before,
)

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("PT1H", timedelta(hours=1)),
    ("pt15m", timedelta(minutes=15)),
    ("P1D", timedelta(days=1)),
    ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
    ("P2W", timedelta(weeks=2)),
    ("PT90S", timedelta(seconds=90)),
])
def test_iso_durations_in_weeks_days_hours_minutes_seconds_are_accepted(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "1H", "P1M", "P1Y", "PT0S", "P400D", "PT1.5H", "P1H", "-PT1H"])
def test_other_durations_are_refused_with_a_reason(text):
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize("seconds, text", [(3600, "PT1H"), (90000, "P1DT1H"), (86400, "P1D"), (5400, "PT1H30M"),
                                           (61, "PT1M1S")])
def test_durations_print_in_canonical_form_and_round_trip(seconds, text):
    assert format_duration(timedelta(seconds=seconds)) == text
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_a_relative_reminder_fires_that_long_before_the_due_date():
    assert remind_at_before(NOW, timedelta(hours=1)) == NOW - timedelta(hours=1)


def reminder(n: int, title: str, remind_at: datetime, due: datetime | None) -> DueReminder:
    return DueReminder(f"r{n}", f"t{n}", title, remind_at, due)


def test_one_reminder_names_its_task_and_due_time():
    title, body = batch_message([reminder(1, "Pay rent", NOW, NOW + timedelta(hours=1))], NOW)
    assert title == "Reminder: Pay rent"
    assert body == "Pay rent is due at 18:00 UTC"


def test_reminders_for_the_same_due_time_become_one_message():
    due = NOW
    title, body = batch_message([reminder(i, f"task {i}", NOW, due) for i in range(3)], NOW)
    assert title == "3 tasks due at 17:00 UTC"
    assert body.splitlines() == ["- task 0 (due 17:00 UTC)", "- task 1 (due 17:00 UTC)", "- task 2 (due 17:00 UTC)"]


def test_a_late_delivery_says_how_late():
    _, body = batch_message([reminder(1, "Call", NOW - timedelta(minutes=3, seconds=20), None)], NOW)
    assert body.endswith("(delivered 3 min late)")
    assert lateness_note(NOW - timedelta(seconds=59), NOW) is None
    assert lateness_note(NOW - timedelta(hours=3, minutes=5), NOW) == "delivered 3 h 5 min late"
    assert lateness_note(NOW - timedelta(days=3), NOW) == "delivered 3 days late"


def test_a_batch_needs_a_reminder():
    with pytest.raises(ValueError):
        batch_message([], NOW)
