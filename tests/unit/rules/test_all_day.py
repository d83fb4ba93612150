"""All-day tasks and the user's zone: the instant a day falls due at, across DST and zone changes, and wording."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from streams.rules.all_day import ZoneError, day_end, due_phrase, is_overdue, local_day, parse_zone, zone_or_utc
from streams.rules.reminders import DueReminder, batch_message

BERLIN = parse_zone("Europe/Berlin")
NEW_YORK = parse_zone("America/New_York")
TOKYO = parse_zone("Asia/Tokyo")
SANTIAGO = parse_zone("America/Santiago")
UTC_ZONE = parse_zone("UTC")
MICRO = timedelta(microseconds=1)


def test_an_all_day_task_falls_due_at_the_last_instant_of_its_local_day():
    end = day_end(date(2026, 12, 11), BERLIN)
    assert end == datetime(2026, 12, 11, 22, 59, 59, 999999, tzinfo=UTC)
    assert local_day(end, BERLIN) == date(2026, 12, 11)
    assert local_day(end + MICRO, BERLIN) == date(2026, 12, 12)


@pytest.mark.parametrize("day, hours", [
    (date(2026, 3, 29), 23),   # spring forward: the day is 23 hours long
    (date(2026, 10, 25), 25),  # fall back: 25 hours
    (date(2026, 6, 1), 24),
])
def test_a_day_across_a_dst_change_ends_at_its_own_local_midnight(day, hours):
    start = day_end(day - timedelta(days=1), BERLIN) + MICRO
    end = day_end(day, BERLIN) + MICRO
    assert end - start == timedelta(hours=hours)
    assert end.astimezone(BERLIN).hour == 0 and end.astimezone(BERLIN).date() == day + timedelta(days=1)


def test_a_midnight_lost_to_a_dst_gap_still_ends_the_day_before_at_the_gap():
    # Chile springs forward at 00:00 on 6 Sep 2026: the 6th starts at 01:00 local (-03).
    end = day_end(date(2026, 9, 5), SANTIAGO)
    assert local_day(end, SANTIAGO) == date(2026, 9, 5)
    assert (end + MICRO).astimezone(SANTIAGO).replace(tzinfo=None) == datetime(2026, 9, 6, 1, 0)


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, TOKYO, SANTIAGO, UTC_ZONE])
def test_changing_zone_keeps_the_calendar_day(zone):
    day = date(2026, 12, 11)
    before = day_end(day, BERLIN)
    after = day_end(day, zone)
    # The day is what is stored; each zone's instant reads back as that same day in that zone.
    assert local_day(after, zone) == day
    assert local_day(before, BERLIN) == day


def test_an_all_day_task_is_overdue_only_after_its_day_ended_in_the_users_zone():
    day = date(2026, 12, 11)
    late_evening_berlin = datetime(2026, 12, 11, 22, 30, tzinfo=UTC)  # 23:30 in Berlin, still the 11th
    assert not is_overdue(day, BERLIN, late_evening_berlin)
    assert is_overdue(day, BERLIN, datetime(2026, 12, 11, 23, 0, tzinfo=UTC))  # 00:00 on the 12th in Berlin
    # The same instant in New York is still the afternoon of the 11th.
    assert not is_overdue(day, NEW_YORK, datetime(2026, 12, 11, 23, 0, tzinfo=UTC))
    assert is_overdue(day, NEW_YORK, datetime(2026, 12, 12, 5, 0, tzinfo=UTC))


def test_only_iana_zone_names_are_accepted():
    assert parse_zone(" Europe/Berlin ").key == "Europe/Berlin"
    for bad in ("", "   ", "Mars/Base", "../../etc/passwd", "localtime", "europe/berlin", "x" * 65, None, 5, ["UTC"]):
        with pytest.raises(ZoneError):
            parse_zone(bad)
    assert zone_or_utc(None).key == "UTC" and zone_or_utc("Gone/Zone").key == "UTC"


NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize("due, day, zone, text", [
    (datetime(2026, 12, 2, 17, 0, tzinfo=UTC), None, BERLIN, "at 18:00 (Europe/Berlin)"),
    (datetime(2026, 12, 2, 17, 0, tzinfo=UTC), None, UTC_ZONE, "at 17:00 UTC"),
    (datetime(2026, 12, 11, 8, 0, tzinfo=UTC), None, BERLIN, "Fri 11 Dec at 09:00 (Europe/Berlin)"),
    (datetime(2027, 1, 4, 8, 0, tzinfo=UTC), None, BERLIN, "Mon 4 Jan 2027 at 09:00 (Europe/Berlin)"),
    # 23:30 UTC on the 2nd is already the 3rd in Tokyo.
    (datetime(2026, 12, 2, 23, 30, tzinfo=UTC), None, TOKYO, "Thu 3 Dec at 08:30 (Asia/Tokyo)"),
    (day_end(date(2026, 12, 2), BERLIN), date(2026, 12, 2), BERLIN, "today"),
    (day_end(date(2026, 12, 11), BERLIN), date(2026, 12, 11), BERLIN, "Fri 11 Dec"),
])
def test_a_due_time_reads_in_the_users_zone_with_the_date_unless_today(due, day, zone, text):
    assert due_phrase(due, day, zone, NOW) == text


def test_a_reminder_text_shows_the_due_time_in_the_users_zone():
    due = datetime(2026, 12, 11, 8, 0, tzinfo=UTC)
    title, body = batch_message([DueReminder("r1", "t1", "Pay rent", NOW, due)], NOW, BERLIN)
    assert title == "Reminder: Pay rent"
    assert body == "Pay rent is due Fri 11 Dec at 09:00 (Europe/Berlin)"


def test_a_reminder_for_an_all_day_task_names_the_day_without_a_time():
    day = date(2026, 12, 2)
    due = day_end(day, BERLIN)
    _, body = batch_message([DueReminder("r1", "t1", "Pay rent", NOW, due, day)], NOW, BERLIN)
    assert body == "Pay rent is due today"
    title, body = batch_message([DueReminder(f"r{i}", f"t{i}", f"task {i}", NOW, due, day) for i in range(2)],
                                NOW, BERLIN)
    assert title == "2 tasks due today"
    assert body.splitlines() == ["- task 0 (due today)", "- task 1 (due today)"]


def test_batched_reminders_list_each_due_time_in_the_zone_without_nested_parentheses():
    dues = [datetime(2026, 12, 2, 17, 0, tzinfo=UTC), datetime(2026, 12, 11, 8, 0, tzinfo=UTC)]
    title, body = batch_message([DueReminder(f"r{i}", f"t{i}", f"task {i}", NOW, d) for i, d in enumerate(dues)],
                                NOW, BERLIN)
    assert title == "2 tasks due"
    assert body.splitlines() == [
        "- task 0 (due 18:00 Europe/Berlin)",
        "- task 1 (due Fri 11 Dec at 09:00 Europe/Berlin)",
    ]
