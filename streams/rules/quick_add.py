"""Quick add: one line of text ("Pay rent every month on the last day #home !high") read into a task or a series.

What the line may hold, anywhere in it (the rest, plain words, is the title; put words in "double quotes"
to keep them in the title as they are):

- a due date and/or time, read in the user's zone: "tomorrow 5pm", "next friday", "friday", "in 3 days",
  "in 2 hours", "dec 11", "11 december 2026", "2026-12-11", "2026-12-11 17:00", "at 9am", "tonight",
  "tomorrow morning"; optionally after "on", "by" or "due". A date without a time is an all-day task.
  A time alone means today, or tomorrow once it has passed. Weekday abbreviations (mon, sat, sun ...)
  count only after on/by/this/next/coming, so "sun cream" stays a title.
- a schedule, which makes a recurring series: "every day", "every 3 days", "every other week",
  "every weekday", "every weekend", "every monday", "every mon and thu", "every 2 weeks on mon",
  "every month", "every month on the 15th", "every month on the last day", "every month on the 2nd tue",
  "every 15th", "every year", "every year on dec 11". "every!" repeats from completion instead of from the
  due date ("every! 3 days": three days after it was done). A series without a time is due at 09:00.
- #tags, and one priority: !high / !medium / !low, or !1 (high) / !2 (medium) / !3 (low).
- "remind me 30 min before", "remind me 1 hour before", "remind me 2 days before".

What the recurring API cannot express (sub-daily schedules, several days of the month, "every!" on set
weekdays) and anything half-understood ("every blursday", "next" alone, "!urgentest") is a QuickAddError
that names the part; nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import natural_dates as nd
from .recurrence import RuleError, parse_rule, slots
from .reminders import MAX_BEFORE_DUE

__all__ = ["PRIORITY_WORDS", "QuickAdd", "QuickAddError", "parse_quick_add"]

#: "!word" -> the API's priority. !1 is the most urgent, as in most to-do apps.
PRIORITY_WORDS = {
    "high": "HIGH", "h": "HIGH", "1": "HIGH",
    "medium": "MEDIUM", "med": "MEDIUM", "m": "MEDIUM", "2": "MEDIUM",
    "low": "LOW", "l": "LOW", "3": "LOW",
}
#: The time a series without one is due (as the MCP tool's start_date default).
SERIES_TIME = nd.DEFAULT_TIME
MAX_TEXT = 1000

_WD_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WD_ABBR = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6}
_WD_INDEX = {name: i for i, name in enumerate(_WD_FULL)} | _WD_ABBR
_WD_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_WD_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WD = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tues?|wed|thu(?:rs?)?|fri|sat|sun|mon)"
_WD_FULL_RE = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november|december|"
          r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?")
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "other": 2}
_AMOUNT = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half\s+an?)"
_END = r"(?=$|[\s,.;:!?)])"
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "last": -1, "fifth": 5, "5th": 5}
_ORDINAL_WORD = r"(?:first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)"

# -- the pieces a line may hold ------------------------------------------------------------------

_QUOTED = re.compile(r'"([^"]*)"')
_TAG = re.compile(rf"(?<!\S)#(\w[\w-]*){_END}")
_PRIORITY = re.compile(rf"(?<!\S)!(\w+){_END}")
_REMIND_ME = re.compile(r"\bremind\s+me\b", re.I)
_REMIND = re.compile(
    rf"\bremind\s+me\s+(?P<amount>{_AMOUNT})\s*(?P<unit>minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)"
    rf"\s+(?:before|earlier|ahead)(?:\s+(?:it|that|due|the\s+due\s+(?:date|time)))?{_END}", re.I)
_EVERY = re.compile(r"\bevery(?P<bang>!)?(?=$|\s)", re.I)
_UNIT_WORDS = r"(?P<unit>days?|weeks?|months?|years?)"
_EVERY_N = rf"(?:other|{_AMOUNT})"
_SUB_DAILY = re.compile(rf"\s+(?:{_AMOUNT}\s+)?(?:hours?|hrs?|minutes?|mins?|seconds?|secs?){_END}", re.I)
_WEEKDAY_LIST = rf"{_WD}s?(?:\s*(?:,\s*(?:and\s+)?|and\s+|&\s*|\+\s*){_WD}s?)*"
_MONTH_DAY_SPEC = (rf"(?:the\s+)?(?:(?P<last_day>last\s+day)|(?P<nth>{_ORDINAL_WORD})\s+(?P<nth_wd>{_WD})|"
                   rf"(?P<md>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+day)?)")
_SERIES = [
    # every weekday / every weekend
    ("weekdays", re.compile(rf"\s+(?P<which>weekdays?|weekends?){_END}", re.I)),
    # every monday / every mon, wed and fri
    ("days_of_week", re.compile(rf"\s+(?P<days>{_WEEKDAY_LIST}){_END}", re.I)),
    # every [N | other] day(s)/week(s)/month(s)/year(s) [on ...]
    ("unit", re.compile(
        rf"\s+(?:(?P<n>{_EVERY_N})\s+)?{_UNIT_WORDS}"
        rf"(?:\s+on\s+(?:(?P<days>{_WEEKDAY_LIST})|{_MONTH_DAY_SPEC}|(?P<year_day>"
        rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH})))?{_END}", re.I)),
    # every 15th [of the month] / every last day of the month / every first monday [of the month]
    ("month_day", re.compile(
        rf"\s+(?:the\s+)?(?:(?P<last_day>last\s+day)|(?P<nth>{_ORDINAL_WORD})\s+(?P<nth_wd>{_WD})|"
        rf"(?P<md>\d{{1,2}})(?:st|nd|rd|th))(?:\s+of\s+(?:the|each|every)\s+month)?{_END}", re.I)),
]
_SEVERAL_MONTH_DAYS = re.compile(r"\s+(?:month\s+on\s+)?(?:the\s+)?\d{1,2}(?:st|nd|rd|th)?\s*(?:,|and|&)\s*"
                                 r"(?:the\s+)?\d{1,2}(?:st|nd|rd|th)?", re.I)

_DATE_PREFIX = r"(?P<prefix>(?:(?:due|starting|from|beginning)\s+)?(?:(?:on|by)\s+)?)"
_DATE = re.compile(
    rf"(?<![\w-]){_DATE_PREFIX}(?:"
    rf"(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})(?:[T ](?P<iso_time>\d{{2}}:\d{{2}}(?::\d{{2}})?)"
    rf"(?P<iso_offset>Z|[+-]\d{{2}}:?\d{{2}})?)?"
    rf"|(?P<rel>today|tonight|tomorrow|tmrw|tmr|yesterday)"
    rf"|(?P<next_week>next\s+week)"
    rf"|(?P<wd>(?:(?P<qual>this|next|coming)\s+)?{_WD})"
    rf"|(?P<in>in\s+(?P<amount>{_AMOUNT})\s*(?P<unit>minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w))"
    rf"|(?P<dm>\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?)"
    rf"|(?P<md>{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?![\d:])(?!\s*(?:am|pm|a\.m\.|p\.m\.))(?:,?\s+\d{{4}})?)"
    rf")(?:\s+(?P<part>morning|afternoon|evening|night))?{_END}", re.I)
_TIME = re.compile(
    r"(?<![\w:-])(?:at\s+)?(?:\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}|noon|midnight|midday)"
    rf"{_END}|(?<![\w-])at\s+\d{{1,2}}(?![\w:-]){_END}", re.I)
_IN_MONTHS = re.compile(rf"\bin\s+{_AMOUNT}\s+(?:months?|years?){_END}", re.I)
_NEXT = re.compile(r"\bnext\b(?:\s+(?P<word>\w+))?", re.I)
_NEXT_UNKNOWN = {"month", "year", "weekend", "day", "time", "hour", "minute", "morning", "evening", "afternoon",
                 "night", "days", "months", "weeks", "years"}


class QuickAddError(ValueError):
    """A line quick add cannot read with certainty; `part` is the piece of text it did not understand."""

    def __init__(self, message: str, part: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.part = part


@dataclass(frozen=True)
class QuickAdd:
    """What a line said. `due` is the local due time (for a series: its first occurrence); an all-day
    task has `due_day` instead; `recurrence` is the recurring API's rule (its JSON form) or None."""

    title: str
    time_zone: str
    due: datetime | None = None
    due_day: date | None = None
    tags: tuple[str, ...] = ()
    priority: str | None = None
    recurrence: dict[str, Any] | None = None
    repeat_from_completion: bool = False
    remind_before: timedelta | None = None
    schedule_text: str | None = field(default=None, compare=False)

    @property
    def all_day(self) -> bool:
        return self.due_day is not None

    @property
    def kind(self) -> str:
        return "recurring" if self.recurrence is not None else "task"

    @property
    def due_date(self) -> str | None:
        """The API's due_date: ISO-8601 with the local offset, or YYYY-MM-DD for an all-day task."""
        if self.due_day is not None:
            return self.due_day.isoformat()
        return self.due.isoformat() if self.due is not None else None

    @property
    def remind_before_minutes(self) -> int | None:
        return None if self.remind_before is None else int(self.remind_before.total_seconds() // 60)

    def understood(self) -> dict[str, Any]:
        return {
            "title": self.title, "due_date": self.due_date, "all_day": self.all_day, "time_zone": self.time_zone,
            "tags": list(self.tags), "priority": self.priority, "recurrence": self.recurrence,
            "repeat_from_completion": self.repeat_from_completion,
            "remind_before_minutes": self.remind_before_minutes,
        }

    def summary(self) -> str:
        """`"Pay rent" · every month on the last day at 09:00 · first Thu 31 Dec 2026 · #home · high`."""
        parts = [f'"{self.title}"']
        if self.schedule_text is not None and self.due is not None:
            completion = ", counted from completion" if self.repeat_from_completion else ""
            parts.append(f"{self.schedule_text} at {self.due:%H:%M}{completion}")
            parts.append(f"first {_day_text(self.due.date())}")
        elif self.due_day is not None:
            parts.append(f"due {_day_text(self.due_day)} (all day)")
        elif self.due is not None:
            parts.append(f"due {_day_text(self.due.date())} {self.due:%H:%M}")
        if self.due is not None or self.due_day is not None:
            parts[-1] += f" {self.time_zone}" if self.time_zone != "UTC" else " UTC"
        if self.tags:
            parts.append(" ".join(f"#{tag}" for tag in self.tags))
        if self.priority is not None:
            parts.append(self.priority.lower())
        if self.remind_before is not None:
            parts.append(f"remind {_duration_text(self.remind_before)} before")
        return " · ".join(parts)


def _day_text(day: date) -> str:
    return f"{_WD_SHORT[day.weekday()]} {day.day} {day:%b %Y}"


def _duration_text(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    for size, unit in ((10080, "week"), (1440, "day"), (60, "hour")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{minutes} min"


def _amount(raw: str) -> float:
    raw = " ".join(raw.lower().split())
    if raw.startswith("half"):
        return 0.5
    return int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]


class _Line:
    """The text being read: each understood piece is blanked out, so what is left is the title."""

    def __init__(self, text: str) -> None:
        self.quoted: list[str] = []

        def hide(match: re.Match[str]) -> str:
            self.quoted.append(match[1])
            return f"\x00{len(self.quoted) - 1}\x00"

        self.text = _QUOTED.sub(hide, text)

    def take(self, match: re.Match[str], start: int | None = None) -> str:
        start = match.start() if start is None else start
        piece = self.text[start:match.end()]
        self.text = self.text[:start] + " " * (match.end() - start) + self.text[match.end():]
        return " ".join(piece.split())

    def rest(self) -> str:
        title = re.sub(r"\x00(\d+)\x00", lambda m: self.quoted[int(m[1])], self.text)
        title = " ".join(title.split())
        # Connecting punctuation a removed piece left dangling ("Pay rent, every month" -> "Pay rent").
        return title.strip(" ,;:-–·")


# -- the parser ------------------------------------------------------------------------------------


def parse_quick_add(text: str, now: datetime, tz: ZoneInfo) -> QuickAdd:
    """Read one line against the aware instant `now`, in the user's zone `tz`; QuickAddError when a part
    cannot be read with certainty."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    if not isinstance(text, str) or not text.strip():
        raise QuickAddError('is empty; write the task, e.g. "Pay rent every month on the 1st #home !high"')
    if len(text) > MAX_TEXT:
        raise QuickAddError(f"is longer than {MAX_TEXT} characters")
    if '"' in _QUOTED.sub("", text):
        raise QuickAddError('has an unmatched double quote; quote words as "like this" to keep them in the title',
                            part='"')
    try:
        return _parse(text, now, tz)
    except OverflowError:
        raise QuickAddError("names a date outside the supported range (years 1 to 9999)") from None


def _parse(text: str, now: datetime, tz: ZoneInfo) -> QuickAdd:
    line = _Line(text)
    tags = _tags(line)
    priority = _priority(line)
    remind = _remind(line)
    series = _series(line)
    moment = _moment(line, now, tz)
    _leftovers(line)
    title = line.rest()
    if not title:
        raise QuickAddError('leaves no title; say what the task is, e.g. "Call mom tomorrow 5pm" '
                            '(quote words to keep them in the title: "\\"Friday\\" review")')
    local_now = now.astimezone(tz)
    zone_name = str(tz.key)

    if series is not None:
        recurrence, first = _recurrence(series, moment, local_now, tz)
        if remind is not None and remind[1] > MAX_BEFORE_DUE:
            raise QuickAddError(f"{remind[0]}: a reminder may be at most {MAX_BEFORE_DUE.days} days before",
                                part=remind[0])
        return QuickAdd(
            title=title, time_zone=zone_name, due=first, tags=tags, priority=priority, recurrence=recurrence,
            repeat_from_completion=series.bang, remind_before=remind[1] if remind else None,
            schedule_text=series.describe(first.date()),
        )

    due, due_day = _resolve(moment, local_now, tz)
    if remind is not None:
        piece, before = remind
        if due is None:
            reason = "an all-day task has no time to count back from" if due_day else "the task has no due date"
            raise QuickAddError(f'{piece}: {reason}; give a time, e.g. "tomorrow 5pm {piece}"', part=piece)
        if before > MAX_BEFORE_DUE:
            raise QuickAddError(f"{piece}: a reminder may be at most {MAX_BEFORE_DUE.days} days before",
                                part=piece)
        if due - before <= local_now:
            raise QuickAddError(f"{piece}: it would fire at {(due - before):%Y-%m-%d %H:%M}, which is already "
                                "past", part=piece)
    return QuickAdd(title=title, time_zone=zone_name, due=due, due_day=due_day, tags=tags, priority=priority,
                    remind_before=remind[1] if remind else None)


def _tags(line: _Line) -> tuple[str, ...]:
    found: list[str] = []
    for match in list(_TAG.finditer(line.text)):
        name = match[1].lower()
        if name not in found:
            found.append(name)
        line.take(match)
    return tuple(found)


def _priority(line: _Line) -> str | None:
    chosen: tuple[str, str] | None = None
    for match in list(_PRIORITY.finditer(line.text)):
        piece = line.take(match)
        value = PRIORITY_WORDS.get(match[1].lower())
        if value is None:
            raise QuickAddError(f"{piece}: not a priority; use !high, !medium, !low or !1 (high), !2, !3 (low)",
                                part=piece)
        if chosen is not None and chosen[1] != value:
            raise QuickAddError(f"{chosen[0]} and {piece}: two priorities; give one", part=piece)
        chosen = (piece, value)
    return chosen[1] if chosen else None


def _remind(line: _Line) -> tuple[str, timedelta] | None:
    matches = list(_REMIND.finditer(line.text))
    if len(matches) > 1:
        raise QuickAddError("two reminders; quick add sets one (add more on the task afterwards)",
                            part=" ".join(matches[1][0].split()))
    if not matches:
        stray = _REMIND_ME.search(line.text)
        if stray:
            piece = _words_from(line.text, stray.start(), 3)
            raise QuickAddError(f'{piece}: not understood; say "remind me 30 min before" or "remind me 1 hour '
                                'before"', part=piece)
        return None
    match = matches[0]
    piece = line.take(match)
    amount, unit = _amount(match["amount"]), match["unit"][0].lower()
    minutes = amount * {"m": 1, "h": 60, "d": 1440, "w": 10080}[unit]
    if minutes != int(minutes) or minutes < 1:
        raise QuickAddError(f"{piece}: give whole minutes", part=piece)
    return piece, timedelta(minutes=int(minutes))


def _words_from(text: str, start: int, count: int) -> str:
    # A quoted title part is shown as "…": the words around it are what was not understood.
    return re.sub(r"\x00\d+\x00", '"…"', " ".join(text[start:].split()[:count]))


# -- schedules -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    piece: str
    bang: bool
    frequency: str
    interval: int = 1
    by_weekday: tuple[int, ...] = ()
    by_month_day: int | None = None
    by_nth_weekday: tuple[int, int] | None = None
    year_day: str | None = None  # "dec 11": the day a yearly series falls on

    def describe(self, first: date) -> str:
        unit = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}[self.frequency]
        head = f"every {unit}" if self.interval == 1 else f"every {self.interval} {unit}s"
        days = self.by_weekday
        if days == (0, 1, 2, 3, 4) and self.interval == 1:
            head = "every weekday"
        elif days == (5, 6) and self.interval == 1:
            head = "every weekend (Sat and Sun)"
        elif days and self.interval == 1:
            head = "every " + _and([_WD_SHORT[d] for d in days])
        elif days:
            head += " on " + _and([_WD_SHORT[d] for d in days])
        elif self.by_month_day == -1:
            head += " on the last day"
        elif self.by_month_day is not None:
            head += f" on the {_ordinal(self.by_month_day)}"
        elif self.by_nth_weekday is not None:
            ordinal, weekday = self.by_nth_weekday
            head += f" on the {'last' if ordinal == -1 else _ordinal(ordinal)} {_WD_SHORT[weekday]}"
        elif self.frequency == "YEARLY":
            head += f" on {first.day} {first:%b}"
        return head


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _weekdays(text: str) -> tuple[int, ...]:
    names = re.findall(_WD, text, re.I)
    return tuple(sorted({_WD_INDEX[name.lower()] for name in names}))


def _series(line: _Line) -> _Series | None:
    matches = list(_EVERY.finditer(line.text))
    if not matches:
        return None
    if len(matches) > 1:
        second = _words_from(line.text, matches[1].start(), 2)
        raise QuickAddError(f"{second}: a second schedule; a task repeats one way", part=second)
    every = matches[0]
    bang = every["bang"] is not None
    word = "every!" if bang else "every"
    after = every.end()
    words = line.text[every.start():].split()
    # "every blursday", "every 3 fortnights": the word after a number too.
    following = " ".join(words[:3] if len(words) > 2 and re.fullmatch(_EVERY_N, words[1], re.I) else words[:2])
    if not line.text[after:].strip() or line.text[after:].lstrip().startswith(("#", "!", "\x00")):
        raise QuickAddError(f'{word}: every what? say how often, e.g. "every day", "every monday", '
                            '"every 2 weeks", "every month on the 15th"', part=word)
    if sub := _SUB_DAILY.match(line.text, after):
        piece = word + " " + " ".join(sub[0].split())
        raise QuickAddError(f"{piece}: quick add repeats at most daily; for shorter intervals create a recurring "
                            "task with a cron expression (POST /api/recurring-tasks)", part=piece)
    if several := _SEVERAL_MONTH_DAYS.match(line.text, after):
        piece = word + " " + " ".join(several[0].split())
        raise QuickAddError(f"{piece}: a recurring task falls on one day of the month; create one per day, or a "
                            "recurring task with an rrule (POST /api/recurring-tasks)", part=piece)
    for kind, pattern in _SERIES:
        match = pattern.match(line.text, after)
        if match is None:
            continue
        piece = line.take(match, every.start())
        return _build_series(kind, match, piece, bang)
    raise QuickAddError(f'{following}: not a schedule quick add knows; say e.g. "every day", "every weekday", '
                        '"every monday", "every 2 weeks on mon", "every month on the last day", "every year"',
                        part=following)


def _build_series(kind: str, match: re.Match[str], piece: str, bang: bool) -> _Series:
    if kind == "weekdays":
        days = (0, 1, 2, 3, 4) if match["which"].lower().startswith("weekday") else (5, 6)
        if bang:
            raise QuickAddError(f"{piece}: repeating from completion on set weekdays is not something the "
                                "recurring API can express (it would wait at least a week); drop the \"!\" or "
                                'say "every! day"', part=piece)
        return _Series(piece, bang, "WEEKLY", by_weekday=days)
    if kind == "days_of_week":
        return _Series(piece, bang, "WEEKLY", by_weekday=_weekdays(match["days"]))
    if kind == "month_day":
        return _Series(piece, bang, "MONTHLY", **_month_day(match, piece))
    interval = 1 if match["n"] is None else _amount(match["n"])
    if interval != int(interval) or interval < 1:
        raise QuickAddError(f"{piece}: the interval must be a whole number of days, weeks, months or years",
                            part=piece)
    frequency = {"d": "DAILY", "w": "WEEKLY", "m": "MONTHLY", "y": "YEARLY"}[match["unit"][0].lower()]
    fields: dict[str, Any] = {}
    if match["days"]:
        if frequency != "WEEKLY":
            raise QuickAddError(f"{piece}: weekdays go with weeks (\"every 2 weeks on mon\")", part=piece)
        fields["by_weekday"] = _weekdays(match["days"])
    elif match["last_day"] or match["nth"] or match["md"]:
        if frequency != "MONTHLY":
            raise QuickAddError(f"{piece}: a day of the month goes with months (\"every month on the 15th\")",
                                part=piece)
        fields.update(_month_day(match, piece))
    elif match["year_day"]:
        if frequency != "YEARLY":
            raise QuickAddError(f"{piece}: a date goes with years (\"every year on dec 11\")", part=piece)
        fields["year_day"] = match["year_day"]
    return _Series(piece, bang, frequency, interval=int(interval), **fields)


def _month_day(match: re.Match[str], piece: str) -> dict[str, Any]:
    if match["last_day"]:
        return {"by_month_day": -1}
    if match["nth"]:
        ordinal = _ORDINALS[match["nth"].lower()]
        if ordinal == 5:
            raise QuickAddError(f"{piece}: most months have no 5th such weekday; say \"last\" instead",
                                part=piece)
        return {"by_nth_weekday": (ordinal, _WD_INDEX[match["nth_wd"].lower()])}
    day = int(match["md"])
    if not 1 <= day <= 31:
        raise QuickAddError(f"{piece}: a day of the month is 1 to 31", part=piece)
    return {"by_month_day": day}


def _recurrence(series: _Series, moment: _Moment | None, local_now: datetime,
                tz: ZoneInfo) -> tuple[dict[str, Any], datetime]:
    """The rule in the recurring API's form, started at its first slot after now (or after the date given)."""
    at = SERIES_TIME
    anchor: date | None = None
    if moment is not None:
        if moment.instant is not None:
            raise QuickAddError(f"{moment.piece}: a schedule starts on a day, optionally at a time; say e.g. "
                                f'"{series.piece} at 5pm"', part=moment.piece)
        at = moment.at or at
        anchor = moment.day
        if anchor is not None and moment.bare_weekday and nd.wall_clock(anchor, at, tz) <= local_now:
            anchor += timedelta(days=7)
    if series.year_day is not None:
        if anchor is not None:
            raise QuickAddError(f"{moment.piece} and {series.piece}: two start days; give one", part=moment.piece)
        day, _ = nd.parse_day(series.year_day, local_now.date())
        if day is None:
            raise QuickAddError(f"{series.piece}: not a date", part=series.piece)
        anchor = day
        if nd.wall_clock(day, at, tz) <= local_now:
            anchor = _next_year_same_day(day)
    if anchor is not None:
        piece = moment.piece if moment is not None and moment.day is not None else series.piece
        start = nd.wall_clock(anchor, at, tz)
        if start <= local_now:
            raise QuickAddError(f"{piece}: the first occurrence would be in the past; start it today or later",
                                part=piece)
        if start.time() != at:
            raise QuickAddError(f"{piece}: {at:%H:%M} does not exist on {anchor.isoformat()} in {tz.key} (the "
                                "clocks change); pick another time or day", part=piece)
    else:
        day = local_now.date()
        start = nd.wall_clock(day, at, tz)
        # The start's wall time becomes every occurrence's: never one a DST change skipped.
        while start <= local_now or start.time() != at:
            day += timedelta(days=1)
            start = nd.wall_clock(day, at, tz)
    rule: dict[str, Any] = {"frequency": series.frequency, "interval": 1, "timezone": str(tz.key),
                            "start_date": start.isoformat(),
                            "repeat_from": "completion_date" if series.bang else "due_date"}
    if series.by_weekday:
        rule["by_weekday"] = [_WD_CODES[d] for d in series.by_weekday]
    if series.by_month_day is not None:
        rule["by_month_day"] = series.by_month_day
    if series.by_nth_weekday is not None:
        ordinal, weekday = series.by_nth_weekday
        rule["by_nth_weekday"] = f"{ordinal}{_WD_CODES[weekday]}"
    try:
        # With interval 1 the first slot on or after `start` is the first day the pattern allows; the
        # series proper starts there, so "every 2 weeks on mon" begins on the coming Monday.
        first = slots(parse_rule(rule), limit=1)[0].astimezone(tz)
        final = parse_rule({**rule, "interval": series.interval, "start_date": first.isoformat()})
    except RuleError as exc:
        raise QuickAddError(f"{series.piece}: {exc.message}", part=series.piece) from None
    return final.to_dict(), first


def _next_year_same_day(day: date) -> date:
    for year in range(day.year + 1, day.year + 9):
        try:
            return day.replace(year=year)
        except ValueError:
            continue  # 29 Feb: the next leap year's
    raise QuickAddError(f"{day.isoformat()}: no such day ahead")


# -- dates and times -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Moment:
    """The date and time pieces of a line: a day (with an optional time), or an exact instant."""

    piece: str
    day: date | None = None
    at: time | None = None
    instant: datetime | None = None
    bare_weekday: bool = False


def _moment(line: _Line, now: datetime, tz: ZoneInfo) -> _Moment | None:
    local_now = now.astimezone(tz)
    found: list[tuple[str, re.Match[str]]] = []
    for match in _DATE.finditer(line.text):
        if match["wd"] and not match["qual"]:
            word = match["wd"].lower().split()[-1]
            # "sun cream", "sat nav", "put on sun cream": an abbreviation needs this/next (sat, sun) or
            # on/by (the others) to be a day.
            if word not in _WD_FULL and (word in ("sat", "sun") or not match["prefix"].strip()):
                continue
        found.append(("date", match))
    if len(found) > 1:
        first, second = (" ".join(m[0].split()) for _, m in found[:2])
        raise QuickAddError(f"{first} and {second}: two dates; give one", part=second)
    day_piece = None
    moment = _Moment(piece="")
    if found:
        match = found[0][1]
        day_piece = line.take(match)
        moment = _date_moment(match, day_piece, local_now, tz)
    times = list(_TIME.finditer(line.text))
    if len(times) > 1:
        first, second = (" ".join(m[0].split()) for m in times[:2])
        raise QuickAddError(f"{first} and {second}: two times; give one", part=second)
    if times:
        piece = line.take(times[0])
        try:
            at = nd.parse_time(re.sub(r"^at\s+", "at ", piece.lower()))
        except nd.DateParseError:
            at = None
        if at is None:
            raise QuickAddError(f"{piece}: not a time of day (use e.g. 5pm, 17:30, at 9)", part=piece)
        if moment.instant is not None or moment.at is not None:
            raise QuickAddError(f"{day_piece} and {piece}: two times; give one", part=piece)
        joined = f"{day_piece} {piece}" if day_piece else piece
        moment = _Moment(piece=joined, day=moment.day, at=at, bare_weekday=moment.bare_weekday)
    if not found and not times:
        return None
    return moment


def _date_moment(match: re.Match[str], piece: str, local_now: datetime, tz: ZoneInfo) -> _Moment:
    today = local_now.date()
    part = nd.PARTS_OF_DAY.get((match["part"] or "").lower())
    if match["iso"]:
        try:
            day = date.fromisoformat(match["iso"])
        except ValueError:
            raise QuickAddError(f"{piece}: not a calendar date", part=piece) from None
        if match["iso_offset"]:
            try:
                instant = datetime.fromisoformat(f"{match['iso']}T{match['iso_time']}{match['iso_offset'].upper()}")
            except ValueError:
                raise QuickAddError(f"{piece}: not a valid date-time", part=piece) from None
            return _Moment(piece, instant=instant.astimezone(tz))
        if match["iso_time"]:
            try:
                at = nd.parse_time(match["iso_time"])
            except nd.DateParseError:
                raise QuickAddError(f"{piece}: not a valid time of day", part=piece) from None
            return _Moment(piece, day=day, at=at)
        return _Moment(piece, day=day, at=part)
    if match["rel"] and match["rel"].lower() == "tonight":
        if part is not None:
            raise QuickAddError(f"{piece}: not understood; say tonight, or this evening's time (tonight 9pm)",
                                part=piece)
        return _Moment(piece, day=today, at=time(20, 0))
    if match["in"]:
        amount, unit = _amount(match["amount"]), match["unit"][0].lower()
        if unit in ("m", "h"):
            if part is not None:
                raise QuickAddError(f"{piece}: not understood", part=piece)
            minutes = amount * (60 if unit == "h" else 1)
            # Elapsed time, counted in UTC: aware arithmetic in a zone would add wall-clock time across DST.
            return _Moment(piece, instant=(local_now.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(tz))
        days = amount * (7 if unit == "w" else 1)
        if days != int(days):
            raise QuickAddError(f"{piece}: give whole days (or hours: in 12 hours)", part=piece)
        return _Moment(piece, day=today + timedelta(days=int(days)), at=part)
    text = " ".join(match[0][len(match["prefix"]):].split())
    if match["part"]:
        text = text.rsplit(" ", 1)[0]
    try:
        day, bare = nd.parse_day(text, today)
    except nd.DateParseError:
        raise QuickAddError(f"{piece}: not a calendar date", part=piece) from None
    if day is None:
        raise QuickAddError(f"{piece}: not a date quick add understands", part=piece)
    return _Moment(piece, day=day, at=part, bare_weekday=bare)


def _resolve(moment: _Moment | None, local_now: datetime, tz: ZoneInfo) -> tuple[datetime | None, date | None]:
    """(due instant, None), or (None, all-day date), or (None, None) without a date."""
    if moment is None:
        return None, None
    if moment.instant is not None:
        return moment.instant, None
    if moment.day is None:
        # A time alone: today, or tomorrow once it has passed.
        assert moment.at is not None
        today = nd.wall_clock(local_now.date(), moment.at, tz)
        return (today if today > local_now else nd.wall_clock(local_now.date() + timedelta(days=1), moment.at, tz)), \
            None
    if moment.at is None:
        # "friday" said on a Friday: the coming one, a week ahead (say "today" for today).
        day = moment.day + timedelta(days=7) if moment.bare_weekday and moment.day == local_now.date() else moment.day
        return None, day
    due = nd.wall_clock(moment.day, moment.at, tz)
    if moment.bare_weekday and due <= local_now:
        due = nd.wall_clock(moment.day + timedelta(days=7), moment.at, tz)
    return due, None


def _leftovers(line: _Line) -> None:
    """Date words left over after the dates were read: half a date is an error, not a title."""
    if match := _IN_MONTHS.search(line.text):
        piece = " ".join(match[0].split())
        raise QuickAddError(f'{piece}: quick add counts in minutes, hours, days or weeks; give a date instead '
                            '(e.g. "jan 15")', part=piece)
    for match in _NEXT.finditer(line.text):
        word = (match["word"] or "").lower()
        if not word or word in _NEXT_UNKNOWN:
            piece = " ".join(match[0].split())
            raise QuickAddError(f'{piece}: not a date quick add understands; say "next friday", "next week", '
                                '"in 3 days" or a date such as "dec 11"', part=piece)
