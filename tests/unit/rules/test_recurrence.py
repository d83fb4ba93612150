"""Tests for recurrence maths: rule validation, due times across DST and month ends, next occurrences, RRULE export."""

from __future__ import annotations

import calendar
import itertools
import time as wallclock
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from streams.rules.recurrence import (
    MAX_SKIPPED,
    Frequency,
    RepeatFrom,
    Rule,
    RuleError,
    ical_dtstart,
    localize,
    next_occurrence,
    parse_rule,
    slot_index,
    slots,
    to_rrule,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def rule(**fields: Any) -> Rule:
    fields.setdefault("start_date", "2024-01-01T09:00:00+00:00")
    return parse_rule(fields)


def local(instants: list[datetime], zone: str) -> list[str]:
    """Due times as the user sees them: local wall time with its UTC offset."""
    tz = ZoneInfo(zone)
    return [instant.astimezone(tz).strftime("%Y-%m-%d %H:%M %z") for instant in instants]


def local_dates(instants: list[datetime], zone: str) -> list[str]:
    tz = ZoneInfo(zone)
    return [instant.astimezone(tz).date().isoformat() for instant in instants]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---------------------------------------------------------------- parsing


def test_parse_accepts_lower_case_frequency_and_fills_in_defaults() -> None:
    parsed = parse_rule({"frequency": "weekly", "start_date": "2024-01-01T09:00:00Z"})
    assert parsed.frequency is Frequency.WEEKLY
    assert parsed.interval == 1
    assert parsed.timezone == "UTC"
    assert parsed.repeat_from is RepeatFrom.DUE_DATE
    assert parsed.end_date is None
    assert parsed.count is None


def test_parse_treats_json_null_as_a_missing_field() -> None:
    parsed = rule(frequency="DAILY", interval=None, timezone=None, repeat_from=None, count=None, end_date=None)
    assert (parsed.interval, parsed.timezone, parsed.repeat_from) == (1, "UTC", RepeatFrom.DUE_DATE)


def test_start_date_keeps_its_local_wall_time_in_the_rule_timezone() -> None:
    # 08:00Z is 09:00 in Berlin in winter: 09:00 is the time of day kept, even in summer.
    parsed = rule(frequency="MONTHLY", start_date="2024-01-15T08:00:00Z", timezone="Europe/Berlin")
    assert parsed.time_of_day == time(9, 0)
    assert local(slots(parsed, limit=7), "Europe/Berlin")[-1] == "2024-07-15 09:00 +0200"


def test_start_date_accepts_an_aware_datetime_and_drops_sub_second_noise() -> None:
    parsed = rule(
        frequency="DAILY", start_date=datetime(2024, 1, 1, 9, 0, 0, 123456, tzinfo=BERLIN), timezone="Europe/Berlin"
    )
    assert slots(parsed, limit=1) == [datetime(2024, 1, 1, 8, 0, tzinfo=UTC)]


def test_date_only_end_date_runs_through_the_end_of_that_local_day() -> None:
    parsed = rule(
        frequency="DAILY", start_date="2024-01-01T23:30:00+01:00", timezone="Europe/Berlin", end_date="2024-01-03"
    )
    assert local(slots(parsed, limit=10), "Europe/Berlin") == [
        "2024-01-01 23:30 +0100",
        "2024-01-02 23:30 +0100",
        "2024-01-03 23:30 +0100",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2TU", (2, 1)),
        ("+2tu", (2, 1)),
        ("2nd TU", (2, 1)),
        ("second tuesday", (2, 1)),
        ("1st MO", (1, 0)),
        ("3rd WE", (3, 2)),
        ("4th SU", (4, 6)),
        ("-1FR", (-1, 4)),
        ("last FR", (-1, 4)),
        ("Last friday", (-1, 4)),
        ("-2 TH", (-2, 3)),
    ],
)
def test_nth_weekday_accepts_numeric_and_spelled_out_forms(text: str, expected: tuple[int, int]) -> None:
    assert rule(frequency="MONTHLY", by_nth_weekday=text).by_nth_weekday == expected


def test_rrule_count_and_until_become_the_rules_count_and_end_date() -> None:
    parsed = rule(rrule="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3", start_date="2024-01-01T09:00:00Z")
    assert (parsed.rrule, parsed.count) == ("FREQ=WEEKLY;BYDAY=MO", 3)
    parsed = rule(rrule="FREQ=DAILY;UNTIL=20240103T090000Z", start_date="2024-01-01T09:00:00Z")
    assert parsed.end_date == datetime(2024, 1, 3, 9, 0, tzinfo=UTC)
    assert len(slots(parsed, limit=10)) == 3


def test_cron_aliases_are_expanded_to_five_fields() -> None:
    assert rule(cron="@daily").cron == "0 0 * * *"


@pytest.mark.parametrize(
    "fields",
    [
        {"frequency": "MONTHLY", "by_nth_weekday": "last FR", "end_date": "2025-01-01T00:00:00Z", "count": 4},
        {"frequency": "WEEKLY", "interval": 2, "by_weekday": ["th", "MO"], "repeat_from": "completion_date"},
        {"frequency": "YEARLY", "start_date": "2024-02-29T07:00:00-05:00", "timezone": "America/New_York"},
        {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin", "end_date": "2024-06-30"},
        {"rrule": "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1;UNTIL=20241231"},
    ],
)
def test_a_parsed_rule_survives_its_canonical_json_form(fields: dict[str, Any]) -> None:
    parsed = rule(**fields)
    assert parse_rule(parsed.to_dict()) == parsed


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"frequency": "DAILY", "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"frequency": "DAILY", "timezone": ""}, "timezone"),
        ({"frequency": "DAILY", "timezone": "localtime"}, "timezone"),
        ({"frequency": "DAILY", "timezone": "../../etc/passwd"}, "timezone"),
        ({"frequency": "DAILY", "timezone": 1}, "timezone"),
        ({"cron": "0 0 31 2 *"}, "cron"),
        ({"cron": "0 0 30 2 *"}, "cron"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * *"}, "cron"),
        ({"cron": "0 0 * * * *"}, "cron"),
        ({"cron": "R 0 * * *"}, "cron"),
        ({"cron": "H 0 * * *"}, "cron"),
        ({"cron": "not a cron"}, "cron"),
        ({"cron": 5}, "cron"),
        ({"frequency": "DAILY", "interval": 0}, "interval"),
        ({"frequency": "DAILY", "interval": 1001}, "interval"),
        ({"frequency": "DAILY", "interval": -1}, "interval"),
        ({"frequency": "DAILY", "interval": "2"}, "interval"),
        ({"frequency": "DAILY", "interval": 1.5}, "interval"),
        ({"frequency": "DAILY", "interval": True}, "interval"),
        ({"frequency": "DAILY", "end_date": "2023-12-31T09:00:00Z"}, "end_date"),
        ({"frequency": "DAILY", "end_date": "2023-12-31"}, "end_date"),
        ({"frequency": "DAILY", "end_date": "soon"}, "end_date"),
        ({"frequency": "DAILY", "end_date": "2024-06-01T09:00:00"}, "end_date"),
        ({"frequency": "DAILY", "by_weekday": ["MO"]}, "by_weekday"),
        ({"frequency": "MONTHLY", "by_weekday": ["MO"]}, "by_weekday"),
        ({"frequency": "WEEKLY", "by_weekday": ["MO", "XX"]}, "by_weekday"),
        ({"frequency": "WEEKLY", "by_weekday": []}, "by_weekday"),
        ({"frequency": "WEEKLY", "by_weekday": "MO"}, "by_weekday"),
        ({"frequency": "WEEKLY", "by_weekday": [1]}, "by_weekday"),
        ({"frequency": "WEEKLY", "by_month_day": 3}, "by_month_day"),
        ({"frequency": "MONTHLY", "by_month_day": 0}, "by_month_day"),
        ({"frequency": "MONTHLY", "by_month_day": 32}, "by_month_day"),
        ({"frequency": "MONTHLY", "by_month_day": -2}, "by_month_day"),
        ({"frequency": "MONTHLY", "by_nth_weekday": "5TU"}, "by_nth_weekday"),
        ({"frequency": "MONTHLY", "by_nth_weekday": "0MO"}, "by_nth_weekday"),
        ({"frequency": "MONTHLY", "by_nth_weekday": "2st TU"}, "by_nth_weekday"),
        ({"frequency": "MONTHLY", "by_nth_weekday": "2XX"}, "by_nth_weekday"),
        ({"frequency": "MONTHLY", "by_nth_weekday": "sometimes"}, "by_nth_weekday"),
        ({"frequency": "MONTHLY", "by_nth_weekday": "2TU", "by_month_day": 3}, "by_nth_weekday"),
        ({"frequency": "YEARLY", "by_nth_weekday": "2TU"}, "by_nth_weekday"),
        ({"frequency": "HOURLY"}, "frequency"),
        ({}, "frequency"),
        ({"frequency": "DAILY", "cron": "0 9 * * *"}, "cron"),
        ({"cron": "0 9 * * *", "rrule": "FREQ=DAILY"}, "rrule"),
        ({"cron": "0 9 * * *", "interval": 2}, "interval"),
        ({"rrule": "FREQ=DAILY", "by_weekday": ["MO"]}, "by_weekday"),
        ({"frequency": "DAILY", "start_date": None}, "start_date"),
        ({"frequency": "DAILY", "start_date": "2024-01-01T09:00:00"}, "start_date"),
        ({"frequency": "DAILY", "start_date": "next tuesday"}, "start_date"),
        ({"frequency": "DAILY", "start_date": "2024-01-01"}, "start_date"),
        ({"frequency": "DAILY", "count": 0}, "count"),
        ({"frequency": "DAILY", "count": 10_001}, "count"),
        ({"frequency": "DAILY", "repeat_from": "whenever"}, "repeat_from"),
        ({"frequency": "DAILY", "by_weekdays": ["MO"]}, "by_weekdays"),
        ({"rrule": "FREQ=HOURLY"}, "rrule"),
        ({"rrule": "FREQ=DAILY;FOO=1"}, "rrule"),
        ({"rrule": "FREQ=DAILY;INTERVAL=0"}, "rrule"),
        ({"rrule": "BYDAY=MO"}, "rrule"),
        ({"rrule": "DTSTART:20240101T090000Z\nRRULE:FREQ=DAILY"}, "rrule"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule"),
        ({"rrule": "FREQ=DAILY;COUNT=3", "count": 3}, "rrule"),
        ({"rrule": "FREQ=DAILY;UNTIL=20250101", "end_date": "2025-01-01"}, "rrule"),
        ({"rrule": "FREQ=DAILY;UNTIL=20231231"}, "rrule"),
        ({"rrule": "FREQ=DAILY;UNTIL=tomorrow"}, "rrule"),
    ],
)
def test_invalid_rule_is_refused_naming_the_offending_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleError) as caught:
        rule(**fields)
    assert caught.value.field == field
    assert caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


def test_a_rule_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(["DAILY"])  # type: ignore[arg-type]
    assert caught.value.field == "rule"


def test_a_daily_rrule_that_can_never_fire_is_refused_without_scanning_to_year_9999() -> None:
    # CPU time, not wall time: a busy machine must not fail this, and scanning to 9999 costs seconds of CPU.
    began = wallclock.process_time()
    with pytest.raises(RuleError) as caught:
        rule(rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
    assert caught.value.field == "rrule"
    assert wallclock.process_time() - began < 1.0


def test_an_rrule_firing_only_in_leap_years_is_accepted() -> None:
    parsed = rule(rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29", start_date="2025-01-01T09:00:00Z")
    assert slots(parsed, limit=2) == [at("2028-02-29T09:00:00+00:00"), at("2032-02-29T09:00:00+00:00")]


# ---------------------------------------------------------------- frequency rules


def test_daily_0900_berlin_stays_0900_local_across_the_march_change() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-03-30T09:00:00+01:00", timezone="Europe/Berlin")
    assert local(slots(parsed, limit=3), "Europe/Berlin") == [
        "2024-03-30 09:00 +0100",
        "2024-03-31 09:00 +0200",
        "2024-04-01 09:00 +0200",
    ]
    assert [s.hour for s in slots(parsed, limit=3)] == [8, 7, 7]


def test_daily_0900_berlin_stays_0900_local_across_the_october_change() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-10-26T09:00:00+02:00", timezone="Europe/Berlin")
    assert local(slots(parsed, limit=3), "Europe/Berlin") == [
        "2024-10-26 09:00 +0200",
        "2024-10-27 09:00 +0100",
        "2024-10-28 09:00 +0100",
    ]


def test_daily_0800_new_york_stays_0800_local_across_both_changes() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-03-09T08:00:00-05:00", timezone="America/New_York")
    assert local(slots(parsed, limit=3), "America/New_York") == [
        "2024-03-09 08:00 -0500",
        "2024-03-10 08:00 -0400",
        "2024-03-11 08:00 -0400",
    ]
    november = slots(parsed, after=at("2024-11-02T00:00:00-04:00"), limit=3)
    assert local(november, "America/New_York") == [
        "2024-11-02 08:00 -0400",
        "2024-11-03 08:00 -0500",
        "2024-11-04 08:00 -0500",
    ]


def test_wall_time_missing_on_spring_forward_day_moves_to_the_first_valid_instant() -> None:
    # 02:30 does not exist in Berlin on 2024-03-31: clocks jump 02:00 -> 03:00.
    parsed = rule(frequency="DAILY", start_date="2024-03-30T02:30:00+01:00", timezone="Europe/Berlin")
    assert local(slots(parsed, limit=3), "Europe/Berlin") == [
        "2024-03-30 02:30 +0100",
        "2024-03-31 03:00 +0200",
        "2024-04-01 02:30 +0200",
    ]


def test_wall_time_missing_in_new_york_moves_to_0300_edt() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-03-09T02:30:00-05:00", timezone="America/New_York")
    assert local(slots(parsed, limit=2), "America/New_York")[1] == "2024-03-10 03:00 -0400"


def test_ambiguous_wall_time_on_fall_back_day_takes_the_first_occurrence() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-10-26T02:30:00+02:00", timezone="Europe/Berlin")
    assert local(slots(parsed, limit=3), "Europe/Berlin") == [
        "2024-10-26 02:30 +0200",
        "2024-10-27 02:30 +0200",
        "2024-10-28 02:30 +0100",
    ]
    new_york = rule(frequency="DAILY", start_date="2024-11-02T01:30:00-04:00", timezone="America/New_York")
    assert slots(new_york, limit=2)[1] == at("2024-11-03T05:30:00+00:00")


def test_start_given_as_the_second_of_two_equal_wall_times_is_still_the_first_slot() -> None:
    second_0230 = at("2024-10-27T02:30:00+01:00")
    parsed = rule(frequency="DAILY", start_date=second_0230.isoformat(), timezone="Europe/Berlin")
    assert slots(parsed, limit=2) == [second_0230, at("2024-10-28T02:30:00+01:00")]


def test_localize_resolves_gaps_forward_and_folds_to_the_first_instant() -> None:
    assert localize(datetime(2024, 3, 31, 2, 30), BERLIN) == at("2024-03-31T01:00:00+00:00")
    assert localize(datetime(2024, 10, 27, 2, 30), BERLIN) == at("2024-10-27T00:30:00+00:00")
    assert localize(datetime(2024, 7, 1, 12, 0), BERLIN) == at("2024-07-01T10:00:00+00:00")
    assert localize(datetime(2024, 3, 10, 2, 30), NEW_YORK) == at("2024-03-10T07:00:00+00:00")
    assert localize(datetime(2024, 11, 3, 1, 30), NEW_YORK) == at("2024-11-03T05:30:00+00:00")


def test_daily_every_third_day() -> None:
    parsed = rule(frequency="DAILY", interval=3, start_date="2024-02-27T09:00:00Z")
    assert local_dates(slots(parsed, limit=3), "UTC") == ["2024-02-27", "2024-03-01", "2024-03-04"]


def test_weekly_without_weekdays_repeats_on_the_start_weekday() -> None:
    parsed = rule(frequency="WEEKLY", start_date="2024-01-03T09:00:00Z")  # a Wednesday
    assert local_dates(slots(parsed, limit=3), "UTC") == ["2024-01-03", "2024-01-10", "2024-01-17"]


def test_weekly_on_listed_weekdays_every_other_week() -> None:
    # Starts on a Wednesday: Monday of the first week is already past.
    parsed = rule(frequency="WEEKLY", interval=2, by_weekday=["MO", "TH"], start_date="2024-01-03T09:00:00Z")
    assert local_dates(slots(parsed, limit=5), "UTC") == [
        "2024-01-04",
        "2024-01-15",
        "2024-01-18",
        "2024-01-29",
        "2024-02-01",
    ]


def test_monthly_on_the_31st_takes_each_months_last_day_without_drifting() -> None:
    parsed = rule(frequency="MONTHLY", start_date="2024-01-31T09:00:00+01:00", timezone="Europe/Berlin")
    assert local_dates(slots(parsed, limit=14), "Europe/Berlin") == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
        "2024-05-31",
        "2024-06-30",
        "2024-07-31",
        "2024-08-31",
        "2024-09-30",
        "2024-10-31",
        "2024-11-30",
        "2024-12-31",
        "2025-01-31",
        "2025-02-28",
    ]
    assert {s.astimezone(BERLIN).time() for s in slots(parsed, limit=14)} == {time(9, 0)}


def test_monthly_on_the_31st_in_a_non_leap_year_gives_feb_28_then_mar_31() -> None:
    parsed = rule(frequency="MONTHLY", by_month_day=31, start_date="2023-01-31T09:00:00Z")
    assert local_dates(slots(parsed, limit=4), "UTC") == ["2023-01-31", "2023-02-28", "2023-03-31", "2023-04-30"]


def test_monthly_on_the_30th_clamps_only_february() -> None:
    parsed = rule(frequency="MONTHLY", by_month_day=30, start_date="2024-01-30T09:00:00Z")
    assert local_dates(slots(parsed, limit=4), "UTC") == ["2024-01-30", "2024-02-29", "2024-03-30", "2024-04-30"]
    parsed = rule(frequency="MONTHLY", start_date="2025-01-30T09:00:00Z")
    assert local_dates(slots(parsed, limit=3), "UTC") == ["2025-01-30", "2025-02-28", "2025-03-30"]


def test_monthly_on_the_last_day() -> None:
    parsed = rule(frequency="MONTHLY", by_month_day=-1, start_date="2024-01-10T18:00:00Z")
    assert local_dates(slots(parsed, limit=4), "UTC") == ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]


def test_monthly_day_already_past_in_the_start_month_begins_next_month() -> None:
    parsed = rule(frequency="MONTHLY", by_month_day=15, start_date="2024-01-20T09:00:00Z")
    assert local_dates(slots(parsed, limit=2), "UTC") == ["2024-02-15", "2024-03-15"]


def test_monthly_on_the_second_tuesday() -> None:
    parsed = rule(frequency="MONTHLY", by_nth_weekday="2nd TU", start_date="2024-01-01T10:00:00Z")
    assert local_dates(slots(parsed, limit=4), "UTC") == ["2024-01-09", "2024-02-13", "2024-03-12", "2024-04-09"]


def test_monthly_on_the_last_friday() -> None:
    parsed = rule(frequency="MONTHLY", by_nth_weekday="last FR", start_date="2024-01-01T16:00:00Z")
    assert local_dates(slots(parsed, limit=4), "UTC") == ["2024-01-26", "2024-02-23", "2024-03-29", "2024-04-26"]


def test_yearly_on_feb_29_falls_back_to_feb_28_and_returns_in_leap_years() -> None:
    parsed = rule(frequency="YEARLY", start_date="2024-02-29T12:00:00Z")
    assert local_dates(slots(parsed, limit=6), "UTC") == [
        "2024-02-29",
        "2025-02-28",
        "2026-02-28",
        "2027-02-28",
        "2028-02-29",
        "2029-02-28",
    ]


def test_yearly_every_other_year_keeps_month_and_day() -> None:
    parsed = rule(frequency="YEARLY", interval=2, start_date="2024-07-04T12:00:00Z")
    assert local_dates(slots(parsed, limit=3), "UTC") == ["2024-07-04", "2026-07-04", "2028-07-04"]


# ---------------------------------------------------------------- cron and rrule rules


def test_cron_is_evaluated_in_the_rule_timezone() -> None:
    parsed = rule(cron="0 9 * * 1-5", start_date="2024-03-28T00:00:00+01:00", timezone="Europe/Berlin")
    assert local(slots(parsed, limit=3), "Europe/Berlin") == [
        "2024-03-28 09:00 +0100",
        "2024-03-29 09:00 +0100",
        "2024-04-01 09:00 +0200",
    ]


def test_cron_wall_times_inside_a_dst_gap_fire_once_at_the_end_of_the_gap() -> None:
    parsed = rule(cron="*/30 1-3 * * *", start_date="2024-03-31T00:00:00+01:00", timezone="Europe/Berlin")
    assert local(slots(parsed, limit=4), "Europe/Berlin") == [
        "2024-03-31 01:00 +0100",
        "2024-03-31 01:30 +0100",
        "2024-03-31 03:00 +0200",
        "2024-03-31 03:30 +0200",
    ]


def test_cron_wall_time_repeated_on_fall_back_day_fires_once() -> None:
    parsed = rule(cron="30 2 * * *", start_date="2024-10-26T00:00:00+02:00", timezone="Europe/Berlin")
    assert local(slots(parsed, limit=3), "Europe/Berlin") == [
        "2024-10-26 02:30 +0200",
        "2024-10-27 02:30 +0200",
        "2024-10-28 02:30 +0100",
    ]


def test_cron_on_the_last_day_of_the_month() -> None:
    parsed = rule(cron="0 18 L * *", start_date="2024-01-01T00:00:00Z")
    assert local_dates(slots(parsed, limit=3), "UTC") == ["2024-01-31", "2024-02-29", "2024-03-31"]


def test_cron_does_not_fire_before_start_date() -> None:
    parsed = rule(cron="0 9 * * *", start_date="2024-01-01T09:00:01Z")
    assert slots(parsed, limit=1) == [at("2024-01-02T09:00:00+00:00")]


def test_rrule_is_evaluated_in_local_wall_time() -> None:
    parsed = rule(rrule="FREQ=WEEKLY;BYDAY=MO,WE", start_date="2024-03-06T09:00:00-05:00", timezone="America/New_York")
    assert local(slots(parsed, limit=3), "America/New_York") == [
        "2024-03-06 09:00 -0500",
        "2024-03-11 09:00 -0400",
        "2024-03-13 09:00 -0400",
    ]


def test_rrule_with_bysetpos_picks_the_last_weekday_of_each_month() -> None:
    parsed = rule(rrule="FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", start_date="2024-01-01T17:00:00Z")
    assert local_dates(slots(parsed, limit=4), "UTC") == ["2024-01-31", "2024-02-29", "2024-03-29", "2024-04-30"]


# ---------------------------------------------------------------- slots() bounds


def test_slots_include_start_date_unless_after_is_given() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z")
    assert slots(parsed, limit=1) == [at("2024-01-01T09:00:00+00:00")]
    assert slots(parsed, after=at("2024-01-01T09:00:00+00:00"), limit=1) == [at("2024-01-02T09:00:00+00:00")]


def test_slots_return_utc_datetimes() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00+01:00", timezone="Europe/Berlin")
    assert all(s.tzinfo is UTC for s in slots(parsed, limit=3))


def test_end_date_is_inclusive_and_ends_the_series() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z", end_date="2024-01-03T09:00:00Z")
    assert local_dates(slots(parsed, limit=10), "UTC") == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert slots(parsed, after=at("2024-01-03T09:00:00+00:00"), limit=10) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"frequency": "WEEKLY", "by_weekday": ["MO", "WE", "FR"]},
        {"cron": "0 9 * * *"},
        {"rrule": "FREQ=DAILY;INTERVAL=2"},
    ],
)
def test_count_counts_from_start_even_when_listing_from_the_middle(fields: dict[str, Any]) -> None:
    parsed = rule(count=5, start_date="2024-01-03T09:00:00Z", **fields)
    everything = slots(parsed, limit=50)
    assert len(everything) == 5
    assert slots(parsed, after=everything[2], limit=50) == everything[3:]
    assert slots(parsed, after=everything[4], limit=50) == []


def test_slots_with_a_zero_limit_is_empty_and_a_negative_one_is_an_error() -> None:
    parsed = rule(frequency="DAILY")
    assert slots(parsed, limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        slots(parsed, limit=-1)


def test_slots_refuses_a_naive_after() -> None:
    with pytest.raises(ValueError, match="after"):
        slots(rule(frequency="DAILY"), after=datetime(2024, 1, 1), limit=1)


def test_the_series_ends_with_the_calendar_in_year_9999() -> None:
    parsed = rule(frequency="YEARLY", interval=1000, start_date="7999-06-01T00:00:00Z")
    assert local_dates(slots(parsed, limit=10), "UTC") == ["7999-06-01", "8999-06-01", "9999-06-01"]


@pytest.mark.parametrize(
    "fields",
    [
        {"frequency": "WEEKLY", "by_weekday": ["TU", "SA"]},
        {"frequency": "MONTHLY", "by_nth_weekday": "-1SU"},
        {"cron": "15 6 * * 0"},
        {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1,15"},
    ],
)
def test_slot_index_gives_each_slots_position_and_none_for_other_times(fields: dict[str, Any]) -> None:
    parsed = rule(start_date="2024-01-03T08:00:00+01:00", timezone="Europe/Berlin", count=20, **fields)
    listed = slots(parsed, limit=30)
    assert [slot_index(parsed, s) for s in listed] == list(range(20))
    assert slot_index(parsed, listed[3] + timedelta(minutes=1)) is None
    assert slot_index(parsed, listed[0] - timedelta(days=400)) is None


def test_slot_index_is_none_beyond_count() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z", count=3)
    assert slot_index(parsed, at("2024-01-03T09:00:00+00:00")) == 2
    assert slot_index(parsed, at("2024-01-04T09:00:00+00:00")) is None


# ---------------------------------------------------------------- next_occurrence


def test_repeat_from_due_date_gives_the_slot_after_the_finished_one() -> None:
    parsed = rule(frequency="WEEKLY", start_date="2024-01-01T09:00:00Z")
    nxt = next_occurrence(
        parsed,
        finished_slot=at("2024-01-08T09:00:00+00:00"),
        completed_at=at("2024-01-08T17:00:00+00:00"),
        now=at("2024-01-08T17:00:01+00:00"),
    )
    assert nxt is not None
    assert (nxt.due, nxt.skipped, nxt.index) == (at("2024-01-15T09:00:00+00:00"), [], 2)


def test_finished_late_skips_past_slots_and_lists_them() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z")
    nxt = next_occurrence(
        parsed,
        finished_slot=at("2024-01-01T09:00:00+00:00"),
        completed_at=at("2024-01-04T12:00:00+00:00"),
        now=at("2024-01-04T12:00:00+00:00"),
    )
    assert nxt is not None
    assert nxt.due == at("2024-01-05T09:00:00+00:00")
    assert local_dates(nxt.skipped, "UTC") == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert not nxt.skipped_truncated
    assert nxt.index == 4


def test_skipped_list_is_capped_and_flagged_when_truncated() -> None:
    parsed = rule(cron="* * * * *", start_date="2024-01-01T00:00:00Z")
    nxt = next_occurrence(
        parsed,
        finished_slot=at("2024-01-01T00:00:00+00:00"),
        completed_at=None,
        now=at("2024-01-03T00:00:30+00:00"),
    )
    assert nxt is not None
    assert nxt.due == at("2024-01-03T00:01:00+00:00")
    assert len(nxt.skipped) == MAX_SKIPPED
    assert nxt.skipped[0] == at("2024-01-01T00:01:00+00:00")
    assert nxt.skipped_truncated


def test_next_occurrence_is_none_once_end_date_has_passed() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z", end_date="2024-01-03T09:00:00Z")
    now = at("2024-01-03T10:00:00+00:00")
    assert next_occurrence(parsed, finished_slot=at("2024-01-03T09:00:00+00:00"), completed_at=now, now=now) is None


def test_next_occurrence_is_none_after_the_count_th_slot() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z", count=3)
    now = at("2024-01-02T10:00:00+00:00")
    last = next_occurrence(parsed, finished_slot=at("2024-01-02T09:00:00+00:00"), completed_at=now, now=now)
    assert last is not None
    assert last.index == 2
    later = at("2024-01-03T10:00:00+00:00")
    assert next_occurrence(parsed, finished_slot=last.due, completed_at=later, now=later) is None


def test_finishing_so_late_that_the_series_ran_out_ends_it() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z", count=3)
    now = at("2024-02-01T00:00:00+00:00")
    assert next_occurrence(parsed, finished_slot=at("2024-01-01T09:00:00+00:00"), completed_at=now, now=now) is None


def test_repeat_from_completion_daily_counts_days_from_the_completion_date() -> None:
    parsed = rule(
        frequency="DAILY",
        interval=3,
        start_date="2024-01-01T09:00:00+01:00",
        timezone="Europe/Berlin",
        repeat_from="completion_date",
    )
    completed = at("2024-01-05T22:30:00+01:00")
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-01T09:00:00+01:00"), completed_at=completed, now=completed)
    assert nxt is not None
    assert local([nxt.due], "Europe/Berlin") == ["2024-01-08 09:00 +0100"]


def test_repeat_from_completion_uses_the_local_date_of_completion() -> None:
    # 23:30Z on Jan 5 is already Jan 6 in Berlin.
    parsed = rule(
        frequency="DAILY",
        start_date="2024-01-01T09:00:00+01:00",
        timezone="Europe/Berlin",
        repeat_from="completion_date",
    )
    completed = at("2024-01-05T23:30:00+00:00")
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-05T09:00:00+01:00"), completed_at=completed, now=completed)
    assert nxt is not None
    assert local([nxt.due], "Europe/Berlin") == ["2024-01-07 09:00 +0100"]


def test_repeat_from_completion_monthly_clamps_to_the_months_last_day() -> None:
    parsed = rule(frequency="MONTHLY", start_date="2024-01-10T09:00:00Z", repeat_from="completion_date")
    completed = at("2024-01-31T15:00:00+00:00")
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-10T09:00:00+00:00"), completed_at=completed, now=completed)
    assert nxt is not None
    assert nxt.due == at("2024-02-29T09:00:00+00:00")


def test_repeat_from_completion_keeps_explicit_weekdays() -> None:
    parsed = rule(
        frequency="WEEKLY", by_weekday=["MO", "TH"], start_date="2024-01-01T09:00:00Z", repeat_from="completion_date"
    )
    completed = at("2024-01-03T12:00:00+00:00")  # Wednesday; a week later is Wed Jan 10
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-01T09:00:00+00:00"), completed_at=completed, now=completed)
    assert nxt is not None
    assert nxt.due == at("2024-01-11T09:00:00+00:00")


def test_repeat_from_completion_keeps_an_explicit_month_day_at_least_interval_months_later() -> None:
    parsed = rule(
        frequency="MONTHLY", by_month_day=15, start_date="2024-01-15T09:00:00Z", repeat_from="completion_date"
    )
    completed = at("2024-01-20T12:00:00+00:00")
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-15T09:00:00+00:00"), completed_at=completed, now=completed)
    assert nxt is not None
    assert nxt.due == at("2024-03-15T09:00:00+00:00")


def test_repeat_from_completion_yearly_on_feb_29_gives_feb_28() -> None:
    parsed = rule(frequency="YEARLY", start_date="2020-01-01T09:00:00Z", repeat_from="completion_date")
    completed = at("2024-02-29T12:00:00+00:00")
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-01T09:00:00+00:00"), completed_at=completed, now=completed)
    assert nxt is not None
    assert nxt.due == at("2025-02-28T09:00:00+00:00")


def test_repeat_from_completion_never_lands_on_or_before_the_finished_slot() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z", repeat_from="completion_date")
    early = at("2024-01-09T20:00:00+00:00")  # the day before the slot it completes
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-10T09:00:00+00:00"), completed_at=early, now=early)
    assert nxt is not None
    assert nxt.due == at("2024-01-11T09:00:00+00:00")


def test_repeat_from_completion_keeps_local_time_across_dst() -> None:
    parsed = rule(
        frequency="WEEKLY",
        start_date="2024-03-25T09:00:00+01:00",
        timezone="Europe/Berlin",
        repeat_from="completion_date",
    )
    completed = at("2024-03-27T10:00:00+01:00")
    nxt = next_occurrence(parsed, finished_slot=at("2024-03-25T09:00:00+01:00"), completed_at=completed, now=completed)
    assert nxt is not None
    assert local([nxt.due], "Europe/Berlin") == ["2024-04-03 09:00 +0200"]


def test_repeat_from_completion_on_cron_takes_the_next_slot_after_completion() -> None:
    parsed = rule(cron="0 9 * * 1", start_date="2024-01-01T09:00:00Z", repeat_from="completion_date")
    completed = at("2024-01-17T12:00:00+00:00")
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-01T09:00:00+00:00"), completed_at=completed, now=completed)
    assert nxt is not None
    assert (nxt.due, nxt.skipped) == (at("2024-01-22T09:00:00+00:00"), [])


def test_repeat_from_completion_on_cron_completed_early_still_moves_past_the_finished_slot() -> None:
    parsed = rule(cron="0 9 * * *", start_date="2024-01-01T09:00:00Z", repeat_from="completion_date")
    early = at("2024-01-02T08:00:00+00:00")
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-02T09:00:00+00:00"), completed_at=early, now=early)
    assert nxt is not None
    assert nxt.due == at("2024-01-03T09:00:00+00:00")


def test_repeat_from_completion_without_a_completion_time_follows_the_due_date() -> None:
    parsed = rule(frequency="DAILY", interval=2, start_date="2024-01-01T09:00:00Z", repeat_from="completion_date")
    now = at("2024-01-01T10:00:00+00:00")
    nxt = next_occurrence(parsed, finished_slot=at("2024-01-01T09:00:00+00:00"), completed_at=None, now=now)
    assert nxt is not None
    assert nxt.due == at("2024-01-03T09:00:00+00:00")


def test_repeat_from_completion_processed_late_skips_the_missed_steps() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z", repeat_from="completion_date")
    completed = at("2024-01-01T12:00:00+00:00")
    now = at("2024-01-04T12:00:00+00:00")  # e.g. the event was replayed after an outage
    nxt = next_occurrence(
        parsed, finished_slot=at("2024-01-01T09:00:00+00:00"), completed_at=completed, now=now, finished_index=0
    )
    assert nxt is not None
    assert nxt.due == at("2024-01-05T09:00:00+00:00")
    assert local_dates(nxt.skipped, "UTC") == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert nxt.index == 4


def test_repeat_from_completion_with_count_needs_and_enforces_the_finished_index() -> None:
    parsed = rule(frequency="DAILY", start_date="2024-01-01T09:00:00Z", repeat_from="completion_date", count=2)
    done = at("2024-01-01T12:00:00+00:00")
    with pytest.raises(ValueError, match="finished_index"):
        next_occurrence(parsed, finished_slot=at("2024-01-01T09:00:00+00:00"), completed_at=done, now=done)
    second = next_occurrence(
        parsed, finished_slot=at("2024-01-01T09:00:00+00:00"), completed_at=done, now=done, finished_index=0
    )
    assert second is not None
    assert second.index == 1
    done_again = second.due + timedelta(hours=1)
    assert (
        next_occurrence(parsed, finished_slot=second.due, completed_at=done_again, now=done_again, finished_index=1)
        is None
    )


def test_repeat_from_completion_stops_at_end_date() -> None:
    parsed = rule(
        frequency="WEEKLY", start_date="2024-01-01T09:00:00Z", repeat_from="completion_date", end_date="2024-01-20"
    )
    done = at("2024-01-15T12:00:00+00:00")
    assert next_occurrence(parsed, finished_slot=at("2024-01-15T09:00:00+00:00"), completed_at=done, now=done) is None


def test_next_occurrence_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="now"):
        next_occurrence(
            rule(frequency="DAILY"),
            finished_slot=at("2024-01-01T09:00:00+00:00"),
            completed_at=None,
            now=datetime(2024, 1, 2),
        )


# ---------------------------------------------------------------- RRULE export


def replay_with_dateutil(parsed: Rule, limit: int) -> list[datetime]:
    """What an iCalendar consumer computes from our export, resolved with our DST policy."""
    exported = to_rrule(parsed)
    assert exported is not None
    text = f"{ical_dtstart(parsed)}\n{exported}"
    walls = (dt.replace(tzinfo=None) for dt in rrulestr(text))
    out: list[datetime] = []
    for wall in walls:
        instant = localize(wall, parsed.tz)
        if not out or instant > out[-1]:
            out.append(instant)
        if len(out) == limit:
            break
    return out


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"frequency": "DAILY", "interval": 3}, "RRULE:FREQ=DAILY;INTERVAL=3"),
        ({"frequency": "WEEKLY", "by_weekday": ["TH", "MO"]}, "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;WKST=MO"),
        (
            {"frequency": "MONTHLY", "start_date": "2024-01-31T09:00:00Z"},
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1",
        ),
        ({"frequency": "MONTHLY", "by_month_day": 12}, "RRULE:FREQ=MONTHLY;BYMONTHDAY=12"),
        ({"frequency": "MONTHLY", "by_month_day": -1}, "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1"),
        ({"frequency": "MONTHLY", "by_nth_weekday": "last FR"}, "RRULE:FREQ=MONTHLY;BYDAY=-1FR"),
        (
            {"frequency": "YEARLY", "start_date": "2024-02-29T09:00:00Z"},
            "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1",
        ),
        ({"frequency": "DAILY", "count": 5}, "RRULE:FREQ=DAILY;COUNT=5"),
        ({"frequency": "DAILY", "end_date": "2024-01-10T12:00:00+01:00"}, "RRULE:FREQ=DAILY;UNTIL=20240110T110000Z"),
        ({"frequency": "DAILY", "count": 5, "end_date": "2024-03-01T00:00:00Z"}, "RRULE:FREQ=DAILY;COUNT=5"),
        (
            {"frequency": "DAILY", "count": 50, "end_date": "2024-01-10T00:00:00Z"},
            "RRULE:FREQ=DAILY;UNTIL=20240110T000000Z",
        ),
        ({"cron": "30 8 * * 1-5"}, "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=8;BYMINUTE=30;BYSECOND=0"),
        ({"cron": "0 9 * * 5#3"}, "RRULE:FREQ=MONTHLY;BYDAY=3FR;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4"}, "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"),
    ],
)
def test_to_rrule_renders_an_rfc5545_rule(fields: dict[str, Any], expected: str) -> None:
    assert to_rrule(rule(**fields)) == expected


def test_to_rrule_is_none_for_a_cron_that_ors_day_of_month_and_weekday() -> None:
    assert to_rrule(rule(cron="0 9 1 * 1")) is None


def test_ical_dtstart_names_the_timezone_and_the_first_slots_wall_time() -> None:
    assert ical_dtstart(rule(frequency="DAILY", start_date="2024-01-31T09:00:00+01:00", timezone="Europe/Berlin")) == (
        "DTSTART;TZID=Europe/Berlin:20240131T090000"
    )
    assert ical_dtstart(rule(cron="0 9 * * 1", start_date="2024-01-03T00:00:00Z")) == "DTSTART:20240108T090000Z"


@pytest.mark.parametrize(
    "fields",
    [
        {"frequency": "MONTHLY", "start_date": "2024-01-31T09:00:00+01:00", "timezone": "Europe/Berlin", "count": 14},
        {
            "frequency": "WEEKLY",
            "interval": 2,
            "by_weekday": ["MO", "TH"],
            "start_date": "2024-01-03T02:30:00+01:00",
            "timezone": "Europe/Berlin",
        },
        {
            "frequency": "YEARLY",
            "start_date": "2024-02-29T08:00:00-05:00",
            "timezone": "America/New_York",
            "end_date": "2033-01-01",
        },
        {"cron": "*/30 1-3 * * 6,0", "start_date": "2024-03-01T00:00:00+01:00", "timezone": "Europe/Berlin"},
        {"cron": "0 9 L 2,8 *", "start_date": "2024-01-01T00:00:00Z"},
        {
            "cron": "0 7 * * 1#1,1#3",
            "start_date": "2024-01-01T00:00:00-05:00",
            "timezone": "America/New_York",
            "count": 10,
        },
        {"rrule": "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "start_date": "2024-01-01T17:00:00Z"},
    ],
)
def test_exported_rrule_round_trips_through_dateutil_to_the_same_slots(fields: dict[str, Any]) -> None:
    parsed = rule(**fields)
    assert replay_with_dateutil(parsed, 60) == slots(parsed, limit=60)


# ---------------------------------------------------------------- properties

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
]
CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def frequency_rules(draw: st.DrawFn) -> Rule:
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)))
    # Hours 0-3 are where DST gaps and folds live.
    wall_time = time(draw(st.sampled_from([0, 1, 2, 3, 9, 23])), draw(st.sampled_from([0, 15, 30, 59])))
    start = localize(datetime.combine(day, wall_time), ZoneInfo(zone))
    frequency = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    fields: dict[str, Any] = {
        "frequency": frequency,
        "interval": draw(st.integers(1, 4) | st.just(1000)),
        "start_date": start.isoformat(),
        "timezone": zone,
    }
    if frequency == "WEEKLY" and draw(st.booleans()):
        fields["by_weekday"] = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=7))
    if frequency == "MONTHLY":
        choice = draw(st.sampled_from(["default", "day", "nth"]))
        if choice == "day":
            fields["by_month_day"] = draw(st.sampled_from([1, 15, 28, 29, 30, 31, -1]))
        elif choice == "nth":
            fields["by_nth_weekday"] = f"{draw(st.sampled_from([1, 2, 3, 4, -1, -2]))}{draw(st.sampled_from(CODES))}"
    if draw(st.booleans()):
        fields["end_date"] = (day + timedelta(days=draw(st.integers(0, 3000)))).isoformat()
    if draw(st.booleans()):
        fields["count"] = draw(st.integers(1, 40))
    return parse_allowing_an_early_end(fields)


def parse_allowing_an_early_end(fields: dict[str, Any]) -> Rule:
    try:
        return parse_rule(fields)
    except RuleError as error:
        # A drawn end_date can fall before the first slot; that rule is refused by design.
        assume(error.field != "end_date")
        raise


CRONS = ["*/20 1-3 * * *", "30 2 * * *", "0 9 * * 1-5", "0 0 L * *", "15 3 1,15 * *", "0 2 * * 0#2"]


@st.composite
def cron_rules(draw: st.DrawFn) -> Rule:
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)))
    start = localize(datetime.combine(day, time(draw(st.integers(0, 23)))), ZoneInfo(zone))
    fields: dict[str, Any] = {"cron": draw(st.sampled_from(CRONS)), "start_date": start.isoformat(), "timezone": zone}
    if draw(st.booleans()):
        fields["count"] = draw(st.integers(1, 40))
    return parse_rule(fields)


def wall_exists(wall: datetime, tz: ZoneInfo) -> bool:
    return localize(wall, tz).astimezone(tz).replace(tzinfo=None) == wall


@PROPERTY_SETTINGS
@given(frequency_rules() | cron_rules())
def test_property_slots_strictly_increase_and_stay_within_start_end_and_count(parsed: Rule) -> None:
    listed = slots(parsed, limit=60)
    assert listed, "every valid rule has a first slot"
    assert all(a < b for a, b in itertools.pairwise(listed))
    assert listed[0] >= parsed.start_date
    if parsed.end_date is not None:
        assert listed[-1] <= parsed.end_date
    if parsed.count is not None:
        assert len(listed) <= parsed.count


@PROPERTY_SETTINGS
@given(frequency_rules() | cron_rules(), st.data())
def test_property_listing_from_any_slot_continues_the_same_series(parsed: Rule, data: st.DataObject) -> None:
    listed = slots(parsed, limit=40)
    i = data.draw(st.integers(0, len(listed) - 1))
    assert slots(parsed, after=listed[i], limit=40 - i - 1) == listed[i + 1 :]
    assert slot_index(parsed, listed[i]) == i


@PROPERTY_SETTINGS
@given(frequency_rules())
def test_property_frequency_rules_keep_the_local_time_of_day_across_dst(parsed: Rule) -> None:
    tz = parsed.tz
    for instant in slots(parsed, limit=60):
        seen = instant.astimezone(tz)
        wanted = datetime.combine(seen.date(), parsed.time_of_day)
        if instant == parsed.start_date:
            continue
        if wall_exists(wanted, tz):
            assert seen.time() == parsed.time_of_day
            assert seen.fold == 0, "an ambiguous wall time resolves to its first occurrence"
        else:
            assert seen.replace(tzinfo=None) > wanted, "a missing wall time moves forward, never back"


@PROPERTY_SETTINGS
@given(frequency_rules().filter(lambda r: r.frequency is Frequency.MONTHLY))
def test_property_monthly_days_are_derived_from_the_anchor_and_never_drift(parsed: Rule) -> None:
    for instant in slots(parsed, limit=60):
        # A DST gap moves the time of day, never the date.
        day = instant.astimezone(parsed.tz).date()
        last = calendar.monthrange(day.year, day.month)[1]
        if parsed.by_nth_weekday is not None:
            ordinal, weekday = parsed.by_nth_weekday
            assert day.weekday() == weekday
            if ordinal > 0:
                assert (day.day - 1) // 7 + 1 == ordinal
            else:
                assert (last - day.day) // 7 + 1 == -ordinal
        else:
            anchor = parsed.by_month_day if parsed.by_month_day is not None else parsed.local_start.day
            assert day.day == (last if anchor == -1 else min(anchor, last))


@PROPERTY_SETTINGS
@given(frequency_rules())
def test_property_exported_rrule_round_trips_through_dateutil(parsed: Rule) -> None:
    assert replay_with_dateutil(parsed, 30) == slots(parsed, limit=30)


@PROPERTY_SETTINGS
@given(frequency_rules() | cron_rules())
def test_property_canonical_json_parses_back_to_the_same_rule(parsed: Rule) -> None:
    assert parse_rule(parsed.to_dict()) == parsed


@PROPERTY_SETTINGS
@given(frequency_rules() | cron_rules(), st.data())
def test_property_next_occurrence_by_due_date_is_the_first_slot_after_now(parsed: Rule, data: st.DataObject) -> None:
    listed = slots(parsed, limit=30)
    i = data.draw(st.integers(0, len(listed) - 1))
    now = listed[i] + timedelta(minutes=data.draw(st.integers(0, 60 * 24 * 20)))
    nxt = next_occurrence(
        replace_repeat(parsed, RepeatFrom.DUE_DATE), finished_slot=listed[i], completed_at=now, now=now
    )
    upcoming = slots(parsed, after=now, limit=1)
    if not upcoming:
        assert nxt is None
        return
    assert nxt is not None
    assert nxt.due == upcoming[0]
    assert nxt.due > now
    assert nxt.skipped == slots(parsed, after=listed[i], limit=len(nxt.skipped))
    assert all(listed[i] < s <= now for s in nxt.skipped)
    if nxt.index is not None:
        assert slot_index(parsed, nxt.due) == nxt.index


@PROPERTY_SETTINGS
@given(frequency_rules(), st.integers(0, 60 * 24 * 400))
def test_property_completion_based_due_is_later_than_finished_slot_and_now_at_the_template_time(
    parsed: Rule, minutes: int
) -> None:
    assume(parsed.end_date is None)
    completed_rule = replace_repeat(parsed, RepeatFrom.COMPLETION_DATE)
    finished = parsed.start_date
    completed = finished + timedelta(minutes=minutes)
    nxt = next_occurrence(
        completed_rule, finished_slot=finished, completed_at=completed, now=completed, finished_index=0
    )
    if nxt is None:
        assert parsed.count == 1 or completed.year >= 9000
        return
    assert nxt.due > finished
    assert nxt.due > completed
    wanted = datetime.combine(nxt.due.astimezone(parsed.tz).date(), parsed.time_of_day)
    if wall_exists(wanted, parsed.tz):
        assert nxt.due.astimezone(parsed.tz).time() == parsed.time_of_day


def replace_repeat(parsed: Rule, repeat_from: RepeatFrom) -> Rule:
    return parse_rule({**parsed.to_dict(), "repeat_from": repeat_from.value})


def test_end_date_before_the_first_occurrence_is_refused() -> None:
    # The first Monday after Wednesday Jan 3 is Jan 8.
    with pytest.raises(RuleError) as caught:
        rule(frequency="WEEKLY", by_weekday=["MO"], start_date="2024-01-03T09:00:00Z", end_date="2024-01-07")
    assert caught.value.field == "end_date"


def test_a_start_date_at_the_edge_of_the_calendar_is_refused_naming_the_field():
    with pytest.raises(RuleError) as info:
        parse_rule({"frequency": "DAILY", "start_date": "0001-01-01T00:00:00+05:00", "timezone": "UTC"})
    assert info.value.field == "start_date"
