"""Todoist's CSV export read as tasks and recurring series: its labels, priorities and the dates that map."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

COLUMNS = ("TYPE", "CONTENT", "DESCRIPTION", "PRIORITY", "INDENT", "AUTHOR", "RESPONSIBLE", "DATE", "DATE_LANG",
           "TIMEZONE", "DURATION", "DURATION_UNIT")
REQUIRED = ("TYPE", "CONTENT")
#: Todoist's p1 is its most urgent; p4 is also what a task without a priority shows.
PRIORITIES = {"1": "HIGH", "2": "MEDIUM", "3": "LOW", "4": "LOW", "": "LOW"}
SKIPPED_TYPES = {
    "section": "a Todoist section (a heading); its tasks are imported without it",
    "note": "a comment; comments are not imported",
    "meta": "Todoist's view settings; nothing to import",
}

_MONTHS = {name: n for n, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for name in names}
_WEEKDAYS = {name: code for code, names in zip(
    ("MO", "TU", "WE", "TH", "FR", "SA", "SU"),
    [("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "wednesday"), ("thu", "thur", "thurs", "thursday"),
     ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday")]) for name in names}
_UNITS = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY"}
_WORDS = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "yearly": "YEARLY", "annually": "YEARLY"}

_TIME = r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm)?"
_AT = rf"(?:,?\s+(?:at\s+)?{_TIME})?"
_ISO = re.compile(rf"^(?P<year>\d{{4}})-(?P<month>\d{{2}})-(?P<day>\d{{2}})(?:[ t]{_TIME}(?::\d{{2}})?)?$")
_MONTH_DAY = re.compile(
    rf"^(?P<mname>[a-z]+)\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{{4}}))?{_AT}$")
_DAY_MONTH = re.compile(
    rf"^(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mname>[a-z]+)\.?(?:,?\s+(?P<year>\d{{4}}))?{_AT}$")
_EVERY = re.compile(rf"^(?:every(?P<bang>!)?\s+(?P<what>.+?)|(?P<word>daily|weekly|monthly|yearly|annually)){_AT}$")
_EVERY_UNIT = re.compile(r"^(?:(?P<other>other)\s+|(?P<n>\d+)\s+)?(?P<unit>day|week|month|year)s?$")
_EVERY_NTH = re.compile(r"^(?P<day>\d{1,2})(?:st|nd|rd|th)$")
_LABEL = re.compile(r"(?<!\S)@(\S+)")


class TodoistError(ValueError):
    """The file as a whole is not a Todoist CSV export (the message says what to send instead)."""


class Unmapped(ValueError):
    """A row this import cannot turn into a task; the message is the reason reported for it."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()

    @property
    def key(self) -> str:
        """The row's content: the same row in a later export is the same task."""
        return "\x1f".join(self.get(column) for column in COLUMNS)


@dataclass(frozen=True)
class Item:
    """A row as the import sees it: a task, a recurring series (`rule` set) or a reason to skip it."""

    line: int
    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    rule: dict[str, Any] | None = None
    reason: str | None = None


def read(text: str) -> list[Row]:
    """The rows of a Todoist CSV export, with the line each starts on."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = [name.strip().upper() for name in next(reader, [])]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise TodoistError(f"the CSV has no {' or '.join(missing)} column; send a Todoist CSV export (columns "
                               f"{', '.join(COLUMNS)}) or this server's JSON export")
        rows, start = [], reader.line_num + 1
        for values in reader:
            if any(value.strip() for value in values):  # Todoist separates sections with empty lines
                rows.append(Row(start, dict(zip(header, values))))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise TodoistError(f"line {reader.line_num}: not valid CSV ({exc})") from None
    return rows


def convert(row: Row, *, now: datetime) -> Item | None:
    """The row as a task or a series to create, or the reason it is skipped; None for a blank row."""
    kind = row.get("TYPE").lower()
    if not kind and not row.get("CONTENT"):
        return None
    try:
        if kind in SKIPPED_TYPES:
            raise Unmapped(SKIPPED_TYPES[kind])
        if kind != "task":
            raise Unmapped(f"TYPE {row.get('TYPE')[:40]!r} is not one of task, section, note or meta")
        return _task(row, now)
    except Unmapped as exc:
        return Item(row.line, row.key, reason=str(exc))


def _task(row: Row, now: datetime) -> Item:
    content = row.get("CONTENT")
    tags = [label for label in _LABEL.findall(content)]
    title = " ".join(_LABEL.sub(" ", content).split())
    if not title:
        raise Unmapped("CONTENT has no title besides its labels")
    priority = PRIORITIES.get(row.get("PRIORITY"))
    if priority is None:
        raise Unmapped(f"PRIORITY must be 1 (highest) to 4, got {row.get('PRIORITY')[:20]!r}")
    fields: dict[str, Any] = {"title": title, "priority": priority, "tags": tags}
    if row.get("DESCRIPTION"):
        fields["description"] = row.get("DESCRIPTION")
    raw = row.get("DATE")
    if not raw:
        return Item(row.line, row.key, fields)
    if row.get("DATE_LANG").lower() not in ("", "en"):
        raise Unmapped(f"DATE_LANG {row.get('DATE_LANG')[:20]!r}: only English dates are understood")
    tz_name = row.get("TIMEZONE") or "UTC"
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unmapped(f"TIMEZONE {tz_name[:60]!r} is not an IANA time zone") from None
    rule = repeat(raw, tz_name, today=now.astimezone(tz).date())
    if rule is not None:
        return Item(row.line, row.key, fields, rule=rule)
    fields["due_date"] = due_date(raw, tz, today=now.astimezone(tz).date())
    return Item(row.line, row.key, fields)


def _clock(match: re.Match) -> tuple[int, int]:
    if match.group("hour") is None:
        return 0, 0
    hour, minute = int(match.group("hour")), int(match.group("minute") or 0)
    ampm = match.group("ampm")
    if ampm:
        if not 1 <= hour <= 12:
            raise Unmapped(f"{hour}{ampm} is not a time")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        raise Unmapped(f"{hour}:{minute:02d} is not a time")
    return hour, minute


def _unknown(text: str) -> Unmapped:
    return Unmapped(f"DATE {text[:60]!r} is not a date this import understands: it maps absolute dates "
                    "(2026-12-11, 2026-12-11 10:00, Dec 11) and repeats such as 'every day', 'every 2 weeks', "
                    "'every monday, friday' or 'every 15th', with an optional 'at 10:00'")


def due_date(text: str, tz: ZoneInfo, *, today: date) -> datetime:
    """An absolute date (a day without a time means its local midnight), in UTC; a year-less one is the next."""
    text = " ".join(text.lower().split())
    match = _ISO.match(text) or _MONTH_DAY.match(text) or _DAY_MONTH.match(text)
    if match is None:
        raise _unknown(text)
    parts = match.groupdict()
    month = int(parts["month"]) if parts.get("month") else _MONTHS.get(parts["mname"])
    if month is None:
        raise _unknown(text)
    hour, minute = _clock(match)
    try:
        if parts.get("year"):
            day = date(int(parts["year"]), month, int(parts["day"]))
        else:
            day = date(today.year, month, int(parts["day"]))
            if day < today:
                day = day.replace(year=today.year + 1)
    except ValueError as exc:
        raise Unmapped(f"DATE {text[:60]!r} is not a calendar date ({exc})") from None
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(timezone.utc)


def repeat(text: str, tz_name: str, *, today: date) -> dict[str, Any] | None:
    """A repeat as the recurring API's rule, starting today; None if `text` is not a repeat."""
    text = " ".join(text.lower().split())
    match = _EVERY.match(text)
    if match is None:
        return None
    hour, minute = _clock(match)
    rule: dict[str, Any] = {
        "start_date": datetime(today.year, today.month, today.day, hour, minute, tzinfo=ZoneInfo(tz_name)).isoformat(),
        "timezone": tz_name,
    }
    if match.group("bang"):
        rule["repeat_from"] = "completion_date"
    if match.group("word"):
        return {**rule, "frequency": _WORDS[match.group("word")]}
    what = match.group("what").strip()
    unit = _EVERY_UNIT.match(what)
    if unit:
        interval = 2 if unit.group("other") else int(unit.group("n") or 1)
        return {**rule, "frequency": _UNITS[unit.group("unit")], "interval": interval}
    if what in ("weekday", "workday"):
        return {**rule, "frequency": "WEEKLY", "by_weekday": ["MO", "TU", "WE", "TH", "FR"]}
    nth = _EVERY_NTH.match(what)
    if nth:
        return {**rule, "frequency": "MONTHLY", "by_month_day": int(nth.group("day"))}
    days = [part for part in re.split(r"\s*,\s*|\s+and\s+|\s+", what) if part]
    if days and all(day in _WEEKDAYS for day in days):
        return {**rule, "frequency": "WEEKLY", "by_weekday": sorted({_WEEKDAYS[d] for d in days},
                                                                    key=list(_WEEKDAYS.values()).index)}
    raise _unknown(text)


__all__ = ["COLUMNS", "PRIORITIES", "Item", "Row", "TodoistError", "Unmapped", "convert", "due_date", "read",
           "repeat"]
