"""Natural-language dates ("tomorrow 5pm", "next friday", "in 2 hours", ISO-8601) resolved in a user's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The time a day without one means ("next friday" → Friday 09:00).
DEFAULT_TIME = time(9, 0)

FORMS = (
    "an ISO-8601 date-time with an offset (2026-12-01T17:00:00+01:00 or …Z); "
    "a local date and time (2026-12-01 09:00, 2026-12-01T09:00, 1 Dec 2026 5pm, Dec 1 17:00; "
    "a day alone means 09:00); "
    "now, today, tonight (20:00), tomorrow or yesterday, optionally with a time (tomorrow 5pm, 5pm tomorrow, "
    "today at 17:30, tomorrow morning/afternoon/evening = 09:00/15:00/18:00); "
    "a weekday (friday, friday 9am: the coming one; next friday: the first after today); next week (Monday 09:00); "
    "a time alone (5pm, 17:00, noon: today, or tomorrow once it has passed); "
    "in N minutes/hours/days/weeks (in 2 hours, in 30 min, in an hour, in 3 days)"
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_ALIASES = {name[:3]: i for i, name in enumerate(WEEKDAYS)} | {name: i for i, name in enumerate(WEEKDAYS)}
_WEEKDAY_ALIASES |= {"tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3}
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_MONTH_ALIASES = {name[:3]: i + 1 for i, name in enumerate(MONTHS)} | {name: i + 1 for i, name in enumerate(MONTHS)}
_MONTH_ALIASES["sept"] = 9

_TIME = r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?"
_TIME_RE = re.compile(rf"(?:at\s+)?(?:{_TIME}|(?P<word>noon|midday|midnight))")
_IN_RE = re.compile(
    r"in\s+(?P<amount>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|half\s+an?)\s*"
    r"(?P<unit>minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w)"
)
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10}
_ORDINAL = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_MONTH = r"(?P<month>[a-z]{3,9})\.?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
_DAY_MONTH_RE = re.compile(rf"{_ORDINAL}\s+(?:of\s+)?{_MONTH}{_YEAR}")
_MONTH_DAY_RE = re.compile(rf"{_MONTH}\s+{_ORDINAL}{_YEAR}")
_TRAILING_TIME_RE = re.compile(rf"^(?P<rest>.*?)\s*(?:\s|^|t)(?P<time>(?:at\s+)?(?:{_TIME}|noon|midday|midnight))$")
_LEADING_TIME_RE = re.compile(rf"^(?P<time>(?:at\s+)?(?:{_TIME}|noon|midday|midnight))\s+(?P<rest>\S.*)$")
_ISO_DATE_RE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})")
#: "tomorrow morning", "friday evening".
PARTS_OF_DAY = {"morning": time(9, 0), "afternoon": time(15, 0), "evening": time(18, 0), "night": time(20, 0)}


class DateParseError(ValueError):
    """Text that is not a date this module understands; the message says which forms work."""


class TimeZoneError(ValueError):
    """Not an IANA time zone name."""


@dataclass(frozen=True)
class Resolved:
    """A resolved instant: `local` in the user's zone, `utc` the same instant in UTC."""

    local: datetime
    utc: datetime
    zone: str

    def iso(self) -> str:
        """What the API takes: ISO-8601 with the local offset."""
        return self.local.isoformat()

    def describe(self) -> str:
        """'Friday 28 Nov 2026 17:00 Europe/Berlin (16:00 UTC)'; the UTC part only when it differs."""
        text = f"{_format(self.local)} {self.zone}"
        if self.zone == "UTC":
            return text
        if self.utc.date() != self.local.date():
            return f"{text} ({_format(self.utc)} UTC)"
        return f"{text} ({self.utc:%H:%M} UTC)"


def _format(moment: datetime) -> str:
    seconds = f":{moment:%S}" if moment.second else ""
    return f"{moment:%A} {moment.day} {moment:%b %Y %H:%M}{seconds}"


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name` (UTC when empty); TimeZoneError otherwise."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeZoneError(f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)") \
            from None


def resolve(text: str, *, now: datetime, tz: ZoneInfo, default_time: time = DEFAULT_TIME) -> Resolved:
    """Resolve `text` against the aware instant `now`, reading wall-clock times in `tz`.

    A wall-clock time that a DST change skips moves forward by the gap (02:30 → 03:30); one that occurs
    twice means the first (the earlier instant). "in N hours/minutes" counts elapsed time; "in N days/weeks"
    keeps the wall-clock time across a DST change.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    if not isinstance(text, str) or not text.strip():
        raise DateParseError(f"empty date; use {FORMS}")
    cleaned = " ".join(text.strip().lower().replace(",", " ").split())
    cleaned = cleaned.removeprefix("on ")
    try:
        absolute = _iso_with_offset(text.strip())
        if absolute is not None:
            return _result(absolute, tz)
        moment = _relative(cleaned, now, tz) or _wall_clock(cleaned, now.astimezone(tz), tz, default_time)
        if moment is None:
            raise DateParseError(f"cannot read {text!r} as a date; use {FORMS}")
        return _result(moment, tz)
    except OverflowError:
        raise DateParseError(f"{text!r} is outside the supported range of dates (years 1-9999)") from None


def _result(moment: datetime, tz: ZoneInfo) -> Resolved:
    utc = moment.astimezone(UTC)
    # The round trip normalises a skipped wall-clock time (DST gap) to the real one.
    return Resolved(local=utc.astimezone(tz), utc=utc, zone=str(tz.key))


def _iso_with_offset(text: str) -> datetime | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2})", text):
        return None
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        raise DateParseError(f"{text!r} looks like ISO-8601 but is not a valid date-time") from None


def _relative(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    if text in ("now", "right now"):
        return now
    match = _IN_RE.fullmatch(text)
    if not match:
        return None
    raw = match["amount"]
    unit = match["unit"][0]
    if raw.startswith("half"):
        amount: float = 0.5
    else:
        amount = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
    if unit == "m":
        return now + timedelta(minutes=amount)
    if unit == "h":
        return now + timedelta(hours=amount)
    days = amount * (7 if unit == "w" else 1)
    local = now.astimezone(tz)
    # Calendar days: the same wall-clock time, whatever DST does in between.
    return _local(local.date() + timedelta(days=int(days)), local.time().replace(tzinfo=None), tz) \
        if days == int(days) else now + timedelta(days=days)


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    try:
        return datetime.combine(day, at, tzinfo=tz)
    except OverflowError:
        raise DateParseError(f"{day.isoformat()} is outside the supported range of dates") from None


def _split_time(text: str) -> tuple[str, time | None]:
    """The date part of `text` and its time, at the end ("friday 5pm") or the start ("5pm friday")."""
    words = text.split()
    if len(words) > 1 and words[-1] in PARTS_OF_DAY:
        return " ".join(words[:-1]), PARTS_OF_DAY[words[-1]]
    match = _TRAILING_TIME_RE.match(text)
    if match:
        parsed = _parse_time(match["time"])
        if parsed is not None:
            return match["rest"].strip(), parsed
    match = _LEADING_TIME_RE.match(text)
    if match:
        parsed = _parse_time(match["time"])
        if parsed is not None:
            return match["rest"].strip(), parsed
    return text, None


def _parse_time(text: str) -> time | None:
    match = _TIME_RE.fullmatch(text.strip())
    if not match:
        return None
    if match["word"]:
        return time(0, 0) if match["word"] == "midnight" else time(12, 0)
    hour, minute, second = int(match["hour"]), int(match["minute"] or 0), int(match["second"] or 0)
    ampm = (match["ampm"] or "").replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            raise DateParseError(f"{text!r}: with am/pm the hour must be 1-12")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif match["minute"] is None and not text.strip().startswith("at "):
        return None  # a bare number ("dec 5") is not a time; "5pm", "17:00" or "at 9" is
    if hour > 23 or minute > 59 or second > 59:
        raise DateParseError(f"{text!r} is not a valid time of day")
    return time(hour, minute, second)


def _wall_clock(text: str, local_now: datetime, tz: ZoneInfo, default_time: time) -> datetime | None:
    if text == "tonight":
        return _local(local_now.date(), time(20, 0), tz)
    date_part, at = _split_time(text)
    if not date_part:
        if at is None:
            return None
        # A time alone: today, or tomorrow once it has passed.
        today = _local(local_now.date(), at, tz)
        return today if today > local_now else _local(local_now.date() + timedelta(days=1), at, tz)
    day, upcoming_weekday = _parse_day(date_part, local_now.date())
    if day is None:
        return None
    moment = _local(day, at or default_time, tz)
    if upcoming_weekday and moment <= local_now:
        # "friday 9am" said on a Friday at 10:00 means next week's Friday.
        moment = _local(day + timedelta(days=7), at or default_time, tz)
    return moment


def _parse_day(text: str, today: date) -> tuple[date | None, bool]:
    """The day `text` names, and whether it was a bare weekday (which must lie ahead)."""
    if text == "today":
        return today, False
    if text in ("tomorrow", "tmrw", "tmr"):
        return today + timedelta(days=1), False
    if text == "yesterday":
        return today - timedelta(days=1), False
    if text == "next week":
        return today + timedelta(days=7 - today.weekday()), False
    words = text.split()
    if words and words[-1] in _WEEKDAY_ALIASES and len(words) <= 2:
        target = _WEEKDAY_ALIASES[words[-1]]
        qualifier = words[0] if len(words) == 2 else ""
        if qualifier not in ("", "this", "next", "coming", "on"):
            return None, False
        ahead = (target - today.weekday()) % 7
        if qualifier == "next":
            return today + timedelta(days=ahead or 7), False
        return today + timedelta(days=ahead), True
    if match := _ISO_DATE_RE.fullmatch(text):
        return _date(int(match["year"]), int(match["month"]), int(match["day"]), text), False
    for pattern in (_DAY_MONTH_RE, _MONTH_DAY_RE):
        match = pattern.fullmatch(text)
        if match and match["month"] in _MONTH_ALIASES:
            month, day = _MONTH_ALIASES[match["month"]], int(match["day"])
            if match["year"]:
                return _date(int(match["year"]), month, day, text), False
            # No year: the next such day, today included (29 Feb: the next leap year's).
            for year in range(today.year, today.year + 9):
                candidate = _date(year, month, day, text, allow_leap_skip=True)
                if candidate is not None and candidate >= today:
                    return candidate, False
    return None, False


def _date(year: int, month: int, day: int, text: str, *, allow_leap_skip: bool = False) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        if allow_leap_skip and (month, day) == (2, 29):
            return None
        raise DateParseError(f"{text!r} is not a valid calendar date") from None


def parse_day(text: str, today: date) -> tuple[date | None, bool]:
    """The day a date phrase without a time names ("friday", "next friday", "dec 11", "2026-12-11",
    "tomorrow"), and whether it was a bare weekday (which the caller must keep ahead); (None, False)
    when it names none."""
    return _parse_day(" ".join(text.strip().lower().replace(",", " ").split()), today)


def parse_time(text: str) -> time | None:
    """A time of day ("5pm", "17:30", "at 9", "noon"); None for a bare number; DateParseError when invalid."""
    return _parse_time(" ".join(text.strip().lower().split()))


def wall_clock(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at `at` in `tz`, as the aware local instant: a time a DST change skips moves forward by the
    gap, one that occurs twice means the first."""
    return _result(_local(day, at, tz), tz).local


__all__ = ["DEFAULT_TIME", "FORMS", "PARTS_OF_DAY", "DateParseError", "Resolved", "TimeZoneError", "parse_day",
           "parse_time", "resolve", "wall_clock", "zone"]
