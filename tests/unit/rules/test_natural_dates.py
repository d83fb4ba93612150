"""Natural dates: every documented form resolved against a fixed clock, in a zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules.natural_dates import DateParseError, TimeZoneError, resolve, zone

BERLIN = zone("Europe/Berlin")
NEW_YORK = zone("America/New_York")
UTC_ZONE = zone("UTC")
# Wednesday 25 Nov 2026, 10:15 in Berlin (09:15 UTC).
NOW = datetime(2026, 11, 25, 9, 15, tzinfo=UTC)


def local(text: str, *, now: datetime = NOW, tz=BERLIN) -> str:
    return resolve(text, now=now, tz=tz).local.strftime("%a %Y-%m-%d %H:%M %z")


@pytest.mark.parametrize(("text", "expected"), [
    ("tomorrow 5pm", "Thu 2026-11-26 17:00 +0100"),
    ("tomorrow at 17:30", "Thu 2026-11-26 17:30 +0100"),
    ("Tomorrow", "Thu 2026-11-26 09:00 +0100"),
    ("today at noon", "Wed 2026-11-25 12:00 +0100"),
    ("tonight", "Wed 2026-11-25 20:00 +0100"),
    ("yesterday 8am", "Tue 2026-11-24 08:00 +0100"),
    ("next friday", "Fri 2026-11-27 09:00 +0100"),  # the first Friday after today
    ("friday", "Fri 2026-11-27 09:00 +0100"),
    ("this friday 5pm", "Fri 2026-11-27 17:00 +0100"),
    ("on Fri at 5:30 pm", "Fri 2026-11-27 17:30 +0100"),
    ("next week", "Mon 2026-11-30 09:00 +0100"),
    ("2026-12-01 09:00", "Tue 2026-12-01 09:00 +0100"),
    ("2026-12-01T09:00:00", "Tue 2026-12-01 09:00 +0100"),
    ("2026-12-01", "Tue 2026-12-01 09:00 +0100"),
    ("1 Dec 2026 5pm", "Tue 2026-12-01 17:00 +0100"),
    ("December 3rd, 2026 at 8:15am", "Thu 2026-12-03 08:15 +0100"),
    ("dec 1", "Tue 2026-12-01 09:00 +0100"),
    ("Jan 5 14:00", "Tue 2027-01-05 14:00 +0100"),
    ("5pm", "Wed 2026-11-25 17:00 +0100"),
    ("9am", "Thu 2026-11-26 09:00 +0100"),
    ("midnight", "Thu 2026-11-26 00:00 +0100"),
    ("5pm tomorrow", "Thu 2026-11-26 17:00 +0100"),
    ("at 17:00 on friday", "Fri 2026-11-27 17:00 +0100"),
    ("next monday at 9", "Mon 2026-11-30 09:00 +0100"),
    ("tomorrow morning", "Thu 2026-11-26 09:00 +0100"),
    ("friday evening", "Fri 2026-11-27 18:00 +0100"),
    ("in 1h", "Wed 2026-11-25 11:15 +0100"),
])
def test_common_forms_resolve_in_the_users_zone(text, expected):
    assert local(text) == expected


def test_a_weekday_said_on_that_day_means_today_while_the_time_is_ahead_and_next_week_after():
    assert local("wednesday 5pm") == "Wed 2026-11-25 17:00 +0100"
    assert local("wednesday 8am") == "Wed 2026-12-02 08:00 +0100"
    assert local("next wednesday 5pm") == "Wed 2026-12-02 17:00 +0100"


def test_iso_8601_with_an_offset_is_the_exact_instant_shown_in_the_users_zone():
    result = resolve("2026-12-01T17:00:00Z", now=NOW, tz=BERLIN)
    assert result.utc == datetime(2026, 12, 1, 17, tzinfo=UTC)
    assert result.iso() == "2026-12-01T18:00:00+01:00"
    assert resolve("2026-12-01T17:00:00-05:00", now=NOW, tz=UTC_ZONE).utc.hour == 22


def test_relative_durations_count_from_the_clock():
    assert resolve("in 2 hours", now=NOW, tz=BERLIN).utc == datetime(2026, 11, 25, 11, 15, tzinfo=UTC)
    assert resolve("in 30 min", now=NOW, tz=BERLIN).utc == datetime(2026, 11, 25, 9, 45, tzinfo=UTC)
    assert resolve("in an hour", now=NOW, tz=BERLIN).utc == datetime(2026, 11, 25, 10, 15, tzinfo=UTC)
    assert resolve("in half an hour", now=NOW, tz=BERLIN).utc.minute == 45
    assert local("in 3 days") == "Sat 2026-11-28 10:15 +0100"
    assert local("in 2 weeks") == "Wed 2026-12-09 10:15 +0100"
    assert resolve("now", now=NOW, tz=BERLIN).utc == NOW


def test_the_echo_names_the_local_time_zone_and_utc():
    assert resolve("friday 5pm", now=NOW, tz=BERLIN).describe() == "Friday 27 Nov 2026 17:00 Europe/Berlin (16:00 UTC)"
    assert resolve("friday 5pm", now=NOW, tz=UTC_ZONE).describe() == "Friday 27 Nov 2026 17:00 UTC"
    # When the UTC day differs, the echo gives the UTC date too.
    assert resolve("friday 8pm", now=NOW, tz=NEW_YORK).describe() == (
        "Friday 27 Nov 2026 20:00 America/New_York (Saturday 28 Nov 2026 01:00 UTC)"
    )


def test_the_same_wall_clock_time_has_another_utc_offset_across_the_spring_dst_change():
    # Friday 27 Mar 2026, Berlin is at +01:00; Sunday 29 Mar it moves to +02:00.
    now = datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    monday = resolve("monday 9am", now=now, tz=BERLIN)
    assert monday.iso() == "2026-03-30T09:00:00+02:00"
    assert monday.utc.hour == 7
    assert local("in 3 days", now=now) == "Mon 2026-03-30 09:00 +0200"  # same wall clock, one hour less elapsed
    assert resolve("in 72 hours", now=now, tz=BERLIN).local.hour == 10  # elapsed hours ignore the wall clock


def test_a_wall_clock_time_skipped_by_dst_moves_forward_by_the_gap():
    now = datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    skipped = resolve("2026-03-29 02:30", now=now, tz=BERLIN)
    assert skipped.iso() == "2026-03-29T03:30:00+02:00"
    assert skipped.utc == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_a_wall_clock_time_repeated_by_dst_means_the_first_one():
    now = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)
    repeated = resolve("2026-10-25 02:30", now=now, tz=BERLIN)
    assert repeated.iso() == "2026-10-25T02:30:00+02:00"
    assert repeated.utc == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_a_date_without_a_year_is_the_next_one_and_feb_29_waits_for_a_leap_year():
    assert local("Nov 25") == "Wed 2026-11-25 09:00 +0100"
    assert local("Nov 24") == "Wed 2027-11-24 09:00 +0100"
    assert local("29 feb") == "Tue 2028-02-29 09:00 +0100"


def test_the_default_time_of_a_day_is_configurable():
    assert resolve("tomorrow", now=NOW, tz=BERLIN, default_time=time(17)).local.hour == 17


@pytest.mark.parametrize("text", ["", "   ", "someday", "next fortnight", "in a while", "friday the 13th",
                                  "13pm", "25:00", "2026-02-30", "31 feb 2026", "tomorrow 99:00"])
def test_unreadable_text_is_an_error_that_lists_the_forms_that_work(text):
    with pytest.raises(DateParseError) as caught:
        resolve(text, now=NOW, tz=BERLIN)
    assert str(caught.value)


def test_the_error_for_unknown_words_names_the_supported_forms():
    with pytest.raises(DateParseError, match="tomorrow 5pm.*next friday.*in 2 hours"):
        resolve("someday", now=NOW, tz=BERLIN)


def test_an_unknown_time_zone_is_refused_with_an_example():
    with pytest.raises(TimeZoneError, match="Europe/Berlin"):
        zone("Mars/Olympus_Mons")
    assert zone(None).key == "UTC"


def test_the_clock_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve("tomorrow", now=datetime(2026, 11, 25, 9), tz=BERLIN)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40) | st.from_regex(
    r"(in \d{1,6} (days|hours|weeks)|\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?|(next |this )?[a-z]{3,9}( \d{1,2}(am|pm))?)",
    fullmatch=True))
def test_any_text_resolves_or_is_a_date_parse_error_never_a_crash(text):
    for tz in (BERLIN, NEW_YORK):
        try:
            result = resolve(text, now=NOW, tz=tz)
        except DateParseError:
            continue
        assert result.utc.tzinfo is not None and result.local.utcoffset() is not None


def test_a_date_at_the_edge_of_the_calendar_is_an_error_not_a_crash():
    with pytest.raises(DateParseError, match="outside the supported range"):
        resolve("9999-12-31 23:00", now=NOW, tz=NEW_YORK)
    with pytest.raises(DateParseError, match="outside the supported range"):
        resolve("in 9999999 days", now=NOW, tz=BERLIN)
