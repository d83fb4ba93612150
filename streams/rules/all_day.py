"""All-day tasks and the user's time zone: the instant a calendar day falls due at, and how due times read.

Pure functions with the clock passed in: no Faust, no SQLAlchemy, no I/O.

An all-day task is a calendar day (`due_day`). Its `due_date` instant is the LAST microsecond of that
day in the user's zone, so everything that compares instants treats it as "due by the end of the day":
it is overdue only once the day has ended, it matches `due:today` (the local day's half-open span), and
it sorts after the timed tasks of the same day. When the user changes zone the day stays and the
instant is recomputed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    "DEFAULT_ZONE",
    "ZONE_EXAMPLE",
    "ZoneError",
    "day_end",
    "due_phrase",
    "is_overdue",
    "local_day",
    "parse_zone",
    "zone_label",
    "zone_or_utc",
]

DEFAULT_ZONE = "UTC"
ZONE_EXAMPLE = "Europe/Berlin"
#: The longest IANA name is about 32 characters; anything much longer is not a zone.
ZONE_NAME_MAX = 64
_LAST = timedelta(microseconds=1)


class ZoneError(ValueError):
    """Not an IANA time zone name; the message says what was given and shows one that works."""


#: Files in the tz folder that name no zone of their own (the machine's setting, a placeholder).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def parse_zone(name: object) -> ZoneInfo:
    """The IANA zone `name` (e.g. Europe/Berlin). Only names of the tz database: no file paths, no "localtime"."""
    if not isinstance(name, str) or not name.strip() or len(name) > ZONE_NAME_MAX:
        raise ZoneError(f"must be an IANA time zone name such as {ZONE_EXAMPLE} or UTC, got {name!r}")
    return _zone(name.strip())


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    known = _known()
    if name in _NOT_ZONES or (known and name not in known and name != "UTC"):
        raise ZoneError(f"is not an IANA time zone name (e.g. {ZONE_EXAMPLE}, America/New_York, UTC): {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ZoneError(f"is not an IANA time zone name (e.g. {ZONE_EXAMPLE}, America/New_York, UTC): {name!r}") \
            from None


def zone_or_utc(name: str | None) -> ZoneInfo:
    """A stored zone name as a zone: UTC when unset, or when this machine's tz database lacks the name
    (a worker with older tzdata must not fail on it)."""
    try:
        return parse_zone(name or DEFAULT_ZONE)
    except ZoneError:
        return parse_zone(DEFAULT_ZONE)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    # fold=0: a midnight lost to a DST gap resolves to the gap's start, the first instant of that day
    # (as db/filters.py counts a day).
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def day_end(day: date, tz: ZoneInfo) -> datetime:
    """The last instant of `day` in `tz`, in UTC: the `due_date` an all-day task sorts and falls due at."""
    return _midnight(day + timedelta(days=1), tz) - _LAST


def local_day(at: datetime, tz: ZoneInfo) -> date:
    """The calendar day `at` falls on in `tz`."""
    return at.astimezone(tz).date()


def is_overdue(day: date, tz: ZoneInfo, now: datetime) -> bool:
    """An all-day task is overdue only once its whole day has ended in the user's zone."""
    return now > day_end(day, tz)


def zone_label(tz: ZoneInfo, *, parenthesised: bool = True) -> str:
    """`UTC`, or the zone's name: `(Europe/Berlin)` inside a sentence, `Europe/Berlin` inside parentheses."""
    name = str(tz.key) if getattr(tz, "key", None) else str(tz)
    if name == "UTC" or not parenthesised:
        return name
    return f"({name})"


def _date_text(day: date, today: date) -> str:
    text = f"{day:%a} {day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def due_phrase(due: datetime, due_day: date | None, tz: ZoneInfo, now: datetime, *, parenthesised: bool = True) -> str:
    """When a task is due, for a person in `tz`: `at 09:00 (Europe/Berlin)` today, `Fri 11 Dec at 09:00 UTC`
    on another day; an all-day task has no time: `today`, `Fri 11 Dec`."""
    today = local_day(now, tz)
    if due_day is not None:
        return "today" if due_day == today else _date_text(due_day, today)
    local = due.astimezone(tz)
    clock = f"{local:%H:%M} {zone_label(tz, parenthesised=parenthesised)}"
    if local.date() == today:
        return f"at {clock}"
    return f"{_date_text(local.date(), today)} at {clock}"
