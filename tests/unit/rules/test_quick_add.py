"""Quick add: each form a line may hold, read with a fixed clock in a zone; half-understood lines are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from zoneinfo import ZoneInfo

from streams.rules.quick_add import QuickAddError, parse_quick_add
from streams.rules.recurrence import parse_rule, slots

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Wednesday 25 Nov 2026, 10:15 in Berlin (09:15 UTC).
NOW = datetime(2026, 11, 25, 9, 15, tzinfo=UTC)


def read(text: str, *, now: datetime = NOW, tz: ZoneInfo = BERLIN) -> dict:
    return parse_quick_add(text, now, tz).understood()


# -- due dates and times ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "title", "due", "all_day"), [
    ("Call mom tomorrow 5pm", "Call mom", "2026-11-26T17:00:00+01:00", False),
    ("Call mom tomorrow at 17:30", "Call mom", "2026-11-26T17:30:00+01:00", False),
    ("Call mom 5pm tomorrow", "Call mom", "2026-11-26T17:00:00+01:00", False),
    ("Call mom tomorrow", "Call mom", "2026-11-26", True),
    ("Report next friday", "Report", "2026-11-27", True),
    ("Report next friday at 9am", "Report", "2026-11-27T09:00:00+01:00", False),
    ("Report friday", "Report", "2026-11-27", True),
    ("Report on fri", "Report", "2026-11-27", True),
    ("Report by this fri 4pm", "Report", "2026-11-27T16:00:00+01:00", False),
    # Said on a Wednesday: a bare "wednesday" is next week's; with a time still ahead today, today's.
    ("Report wednesday", "Report", "2026-12-02", True),
    ("Report wednesday 11am", "Report", "2026-11-25T11:00:00+01:00", False),
    ("Report wednesday 9am", "Report", "2026-12-02T09:00:00+01:00", False),
    ("Report next week", "Report", "2026-11-30", True),
    ("Picnic this sat", "Picnic", "2026-11-28", True),
    ("Picnic next sun 1pm", "Picnic", "2026-11-29T13:00:00+01:00", False),
    ("Pay bills in 3 days", "Pay bills", "2026-11-28", True),
    ("Pay bills in 3 days at 8am", "Pay bills", "2026-11-28T08:00:00+01:00", False),
    ("Pay bills in 2 weeks", "Pay bills", "2026-12-09", True),
    ("Tea in 2 hours", "Tea", "2026-11-25T12:15:00+01:00", False),
    ("Tea in 30 min", "Tea", "2026-11-25T10:45:00+01:00", False),
    ("Tea in half an hour", "Tea", "2026-11-25T10:45:00+01:00", False),
    ("Dentist dec 11", "Dentist", "2026-12-11", True),
    ("Dentist Dec 11th 2027", "Dentist", "2027-12-11", True),
    ("Dentist 11 december", "Dentist", "2026-12-11", True),
    ("Dentist 11th of dec", "Dentist", "2026-12-11", True),
    ("Dentist 2026-12-11", "Dentist", "2026-12-11", True),
    ("Dentist on 2026-12-11", "Dentist", "2026-12-11", True),
    ("Dentist 2026-12-11 17:00", "Dentist", "2026-12-11T17:00:00+01:00", False),
    ("Dentist 2026-12-11T17:00", "Dentist", "2026-12-11T17:00:00+01:00", False),
    ("Dentist 2026-12-11T17:00:00Z", "Dentist", "2026-12-11T18:00:00+01:00", False),
    ("Dentist dec 11 at 9am", "Dentist", "2026-12-11T09:00:00+01:00", False),
    # A time alone: today while it is ahead, else tomorrow.
    ("Standup at 9am", "Standup", "2026-11-26T09:00:00+01:00", False),
    ("Standup at 11", "Standup", "2026-11-25T11:00:00+01:00", False),
    ("Lunch at noon", "Lunch", "2026-11-25T12:00:00+01:00", False),
    ("Film tonight", "Film", "2026-11-25T20:00:00+01:00", False),
    ("Run tomorrow morning", "Run", "2026-11-26T09:00:00+01:00", False),
    ("Run tomorrow evening", "Run", "2026-11-26T18:00:00+01:00", False),
    ("Buy milk", "Buy milk", None, False),
])
def test_due_dates_and_times_in_the_users_zone(text, title, due, all_day):
    understood = read(text)
    assert (understood["title"], understood["due_date"], understood["all_day"]) == (title, due, all_day)
    assert understood["time_zone"] == "Europe/Berlin"
    assert understood["recurrence"] is None


def test_the_same_words_mean_the_local_time_of_each_zone():
    assert read("Call tomorrow 5pm", tz=NEW_YORK)["due_date"] == "2026-11-26T17:00:00-05:00"
    assert read("Call tomorrow 5pm", tz=ZoneInfo("UTC"))["due_date"] == "2026-11-26T17:00:00+00:00"
    # 23:30 UTC on the 25th is already the 26th in Berlin: "tomorrow" is the 27th there, the 26th in New York.
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert read("x tomorrow", now=late)["due_date"] == "2026-11-27"
    assert read("x tomorrow", now=late, tz=NEW_YORK)["due_date"] == "2026-11-26"


# -- DST in Europe/Berlin: clocks go forward 29 Mar 2026 02:00 -> 03:00, back 25 Oct 2026 03:00 -> 02:00 ------

BEFORE_SPRING = datetime(2026, 3, 28, 10, 0, tzinfo=UTC)  # Saturday, 11:00 CET
BEFORE_AUTUMN = datetime(2026, 10, 24, 10, 0, tzinfo=UTC)  # Saturday, 12:00 CEST


@pytest.mark.parametrize(("now", "text", "due"), [
    (BEFORE_SPRING, "x tomorrow 9am", "2026-03-29T09:00:00+02:00"),  # same wall time, new offset
    (BEFORE_SPRING, "x in 24 hours", "2026-03-29T12:00:00+02:00"),  # elapsed time: 11:00 + 24 h = 12:00 CEST
    (BEFORE_SPRING, "x tomorrow 2:30am", "2026-03-29T03:30:00+02:00"),  # skipped: forward by the gap
    (BEFORE_AUTUMN, "x tomorrow 9am", "2026-10-25T09:00:00+01:00"),
    (BEFORE_AUTUMN, "x tomorrow 2:30am", "2026-10-25T02:30:00+02:00"),  # twice: the first
    (BEFORE_AUTUMN, "x in 24 hours", "2026-10-25T11:00:00+01:00"),
])
def test_dst_changes_keep_wall_times_and_count_elapsed_hours(now, text, due):
    assert read(text, now=now)["due_date"] == due


def test_a_daily_series_keeps_its_local_time_across_the_dst_change():
    understood = read("Meds every day at 8am", now=BEFORE_SPRING)
    rule = parse_rule(understood["recurrence"])
    due = [moment.astimezone(BERLIN).isoformat() for moment in slots(rule, limit=3)]
    assert due == ["2026-03-29T08:00:00+02:00", "2026-03-30T08:00:00+02:00", "2026-03-31T08:00:00+02:00"]


def test_a_series_never_starts_on_a_wall_time_the_clocks_skip():
    # 02:30 does not exist on 29 Mar: the series starts the day after, and keeps 02:30 as its time.
    understood = read("Backup every day at 2:30am", now=BEFORE_SPRING)
    assert understood["due_date"] == "2026-03-30T02:30:00+02:00"
    with pytest.raises(QuickAddError, match="02:30 does not exist on 2026-03-29"):
        read("Backup every day at 2:30am starting tomorrow", now=BEFORE_SPRING)


# -- schedules --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "rule", "first", "schedule"), [
    ("Stretch every day", {"frequency": "DAILY", "interval": 1}, "2026-11-26T09:00:00+01:00", "every day at 09:00"),
    ("Stretch every 3 days", {"frequency": "DAILY", "interval": 3}, "2026-11-26T09:00:00+01:00",
     "every 3 days at 09:00"),
    ("Stretch every other day at 7pm", {"frequency": "DAILY", "interval": 2}, "2026-11-25T19:00:00+01:00",
     "every 2 days at 19:00"),
    ("Standup every weekday at 9:30", {"frequency": "WEEKLY", "interval": 1,
                                       "by_weekday": ["MO", "TU", "WE", "TH", "FR"]},
     "2026-11-26T09:30:00+01:00", "every weekday at 09:30"),
    ("Clean every weekend", {"frequency": "WEEKLY", "interval": 1, "by_weekday": ["SA", "SU"]},
     "2026-11-28T09:00:00+01:00", "every weekend (Sat and Sun) at 09:00"),
    ("Gym every monday", {"frequency": "WEEKLY", "interval": 1, "by_weekday": ["MO"]},
     "2026-11-30T09:00:00+01:00", "every Mon at 09:00"),
    ("Gym every mon, wed and fri at 7am", {"frequency": "WEEKLY", "interval": 1, "by_weekday": ["MO", "WE", "FR"]},
     "2026-11-27T07:00:00+01:00", "every Mon, Wed and Fri at 07:00"),
    ("Review every 2 weeks on Mon", {"frequency": "WEEKLY", "interval": 2, "by_weekday": ["MO"]},
     "2026-11-30T09:00:00+01:00", "every 2 weeks on Mon at 09:00"),
    ("Review every week", {"frequency": "WEEKLY", "interval": 1}, "2026-11-26T09:00:00+01:00",
     "every week at 09:00"),
    ("Pay rent every month on the last day", {"frequency": "MONTHLY", "interval": 1, "by_month_day": -1},
     "2026-11-30T09:00:00+01:00", "every month on the last day at 09:00"),
    ("Pay rent every month on the 15th", {"frequency": "MONTHLY", "interval": 1, "by_month_day": 15},
     "2026-12-15T09:00:00+01:00", "every month on the 15th at 09:00"),
    ("Pay rent every 15th", {"frequency": "MONTHLY", "interval": 1, "by_month_day": 15},
     "2026-12-15T09:00:00+01:00", "every month on the 15th at 09:00"),
    ("Pay rent every month on the 31st", {"frequency": "MONTHLY", "interval": 1, "by_month_day": 31},
     "2026-11-30T09:00:00+01:00", "every month on the 31st at 09:00"),
    ("Board every month on the 2nd tue", {"frequency": "MONTHLY", "interval": 1, "by_nth_weekday": "2TU"},
     "2026-12-08T09:00:00+01:00", "every month on the 2nd Tue at 09:00"),
    ("Drinks every last friday", {"frequency": "MONTHLY", "interval": 1, "by_nth_weekday": "-1FR"},
     "2026-11-27T09:00:00+01:00", "every month on the last Fri at 09:00"),
    ("Invoice every 3 months", {"frequency": "MONTHLY", "interval": 3}, "2026-11-26T09:00:00+01:00",
     "every 3 months at 09:00"),
    ("Taxes every year on apr 15", {"frequency": "YEARLY", "interval": 1}, "2027-04-15T09:00:00+02:00",
     "every year on 15 Apr at 09:00"),
    ("Birthday every year", {"frequency": "YEARLY", "interval": 1}, "2026-11-26T09:00:00+01:00",
     "every year on 26 Nov at 09:00"),
    ("Stretch every day starting dec 1", {"frequency": "DAILY", "interval": 1}, "2026-12-01T09:00:00+01:00",
     "every day at 09:00"),
])
def test_schedules_become_the_recurring_apis_rules(text, rule, first, schedule):
    understood = read(text)
    recurrence = understood["recurrence"]
    assert {k: v for k, v in recurrence.items() if k not in ("start_date", "timezone", "repeat_from")} == rule
    assert recurrence["timezone"] == "Europe/Berlin"
    assert recurrence["repeat_from"] == "due_date"
    assert recurrence["start_date"] == first == understood["due_date"]
    assert understood["all_day"] is False and understood["repeat_from_completion"] is False
    # The rule is the recurring API's own and its first slot is the first due date.
    assert slots(parse_rule(recurrence), limit=1)[0].astimezone(BERLIN).isoformat() == first
    assert f" · {schedule} · " in parse_quick_add(text, NOW, BERLIN).summary()


def test_every_bang_repeats_from_completion():
    understood = read("Water plants every! 3 days")
    assert understood["repeat_from_completion"] is True
    assert understood["recurrence"]["repeat_from"] == "completion_date"
    assert understood["recurrence"]["interval"] == 3
    assert "every 3 days at 09:00, counted from completion" in parse_quick_add("Water plants every! 3 days", NOW,
                                                                              BERLIN).summary()


def test_the_summary_says_what_was_understood():
    assert parse_quick_add("Pay rent every month on the last day #home !high", NOW, BERLIN).summary() == (
        '"Pay rent" · every month on the last day at 09:00 · first Mon 30 Nov 2026 Europe/Berlin · #home · high')
    assert parse_quick_add("Call mom tomorrow 5pm remind me 30 min before", NOW, BERLIN).summary() == (
        '"Call mom" · due Thu 26 Nov 2026 17:00 Europe/Berlin · remind 30 min before')
    assert parse_quick_add("Dentist dec 11", NOW, ZoneInfo("UTC")).summary() == (
        '"Dentist" · due Fri 11 Dec 2026 (all day) UTC')


# -- tags, priority, reminders, title ---------------------------------------------------------------

@pytest.mark.parametrize(("text", "title", "tags", "priority"), [
    ("Pay rent #home #Money", "Pay rent", ["home", "money"], None),
    ("#work Write report, #work", "Write report", ["work"], None),
    ("Write report !high", "Write report", [], "HIGH"),
    ("Write report !medium", "Write report", [], "MEDIUM"),
    ("Write report !LOW", "Write report", [], "LOW"),
    ("!1 Write report", "Write report", [], "HIGH"),
    ("Write report !2", "Write report", [], "MEDIUM"),
    ("Write report !3", "Write report", [], "LOW"),
    ("Write report !high !1", "Write report", [], "HIGH"),  # the same priority twice is fine
    ("Wow! Great news", "Wow! Great news", [], None),  # "!" inside a word is not a priority
    ("Issue #12 fix", "Issue fix", ["12"], None),
    ('"Friday" review tomorrow', "Friday review", [], None),  # quoted words stay as they are
    ('Read "every day is a gift" #books', "Read every day is a gift", ["books"], None),
    ("Put on sun cream", "Put on sun cream", [], None),  # an abbreviation alone is not a weekday
    ("Plan next steps", "Plan next steps", [], None),
    ("Buy milk at 7-eleven", "Buy milk at 7-eleven", [], None),
    ("Afternoon tea", "Afternoon tea", [], None),
    ("Everyone's lunch", "Everyone's lunch", [], None),
])
def test_tags_priority_and_the_title(text, title, tags, priority):
    understood = read(text)
    assert (understood["title"], understood["tags"], understood["priority"]) == (title, tags, priority)


@pytest.mark.parametrize(("text", "minutes"), [
    ("Call tomorrow 5pm remind me 30 min before", 30),
    ("Call tomorrow 5pm remind me 30 minutes before", 30),
    ("Call tomorrow 5pm remind me 1 hour before", 60),
    ("Call tomorrow 5pm remind me an hour before", 60),
    ("Call tomorrow 5pm remind me half an hour before", 30),
    ("Call tomorrow 5pm, remind me 2h before", 120),
    ("Call dec 11 5pm remind me 1 day before", 1440),
    ("Standup every weekday at 9:30 remind me 10 min before", 10),
])
def test_remind_me_before(text, minutes):
    understood = read(text)
    assert understood["remind_before_minutes"] == minutes
    assert understood["title"] == ("Standup" if "Standup" in text else "Call")


# -- what is refused, naming the part ---------------------------------------------------------------

@pytest.mark.parametrize(("text", "part", "says"), [
    ("Meet every blursday", "every blursday", "not a schedule"),
    ("Meet every 3 fortnights", "every 3 fortnights", "not a schedule"),
    ("Meet every", "every", "every what"),
    ("Meet every #work", "every", "every what"),
    ("Meet next", "next", "not a date"),
    ("Meet next month", "next month", "not a date"),
    ("Meet in 2 months", "in 2 months", "days or weeks"),
    ("Ship it !urgentest", "!urgentest", "not a priority"),
    ("Ship it !high !low", "!low", "two priorities"),
    ("Meet tomorrow friday", "friday", "two dates"),
    ("Meet 5pm at 6pm", "at 6pm", "two times"),
    ("Meet tonight 9pm", "9pm", "two times"),
    ("Meet in 2 hours at 5pm", "at 5pm", "two times"),
    ("Meet at 25:00", "at 25:00", "not a time of day"),
    ("Meet 2026-02-30", "2026-02-30", "not a calendar date"),
    ("Meet 2026-12-11 25:00", "2026-12-11 25:00", "not a valid time of day"),
    ("Meet feb 30", "feb 30", "not a calendar date"),
    ("Ping every 2 hours", "every 2 hours", "at most daily"),
    ("Ping every hour", "every hour", "at most daily"),
    ("Pay every month on the 1st and 15th", "every month on the 1st and 15th", "one day of the month"),
    ("Check every! weekday", "every! weekday", "repeating from completion on set weekdays"),
    ("Check every month on the 5th friday", "every month on the 5th friday", "last"),
    ("Check every day every week", "every week", "a second schedule"),
    ("Check every day in 2 hours", "in 2 hours", "starts on a day"),
    ("Check every day starting yesterday", "starting yesterday", "in the past"),
    ("Call remind me later", "remind me later", "remind me 30 min before"),
    ("Call remind me 30 min before", "remind me 30 min before", "no due date"),
    ("Call dec 11 remind me 30 min before", "remind me 30 min before", "all-day task"),
    ("Call in 10 min remind me 1 hour before", "remind me 1 hour before", "already past"),
    ("Call in 3 days at 5pm remind me 400 days before", "remind me 400 days before", "at most 365 days"),
])
def test_half_understood_lines_are_refused_naming_the_part(text, part, says):
    with pytest.raises(QuickAddError) as refused:
        read(text)
    assert refused.value.part == part
    assert says in refused.value.message
    assert part in refused.value.message


@pytest.mark.parametrize("text", ["", "   ", "#home !high", "tomorrow 5pm", "every day", '"unclosed title'])
def test_a_line_without_a_title_or_with_a_stray_quote_is_refused(text):
    with pytest.raises(QuickAddError):
        read(text)


@pytest.mark.parametrize("text", ["x in 999999999 weeks", "x in 99999999 days", "x in 99999999 days every day"])
def test_dates_past_the_calendar_are_refused_not_crashed_on(text):
    with pytest.raises(QuickAddError, match="outside the supported range"):
        read(text, tz=ZoneInfo("Pacific/Kiritimati"))


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_quick_add("x", datetime(2026, 1, 1), BERLIN)
