"""Reminder maths: ISO-8601 durations, when a reminder fires, how it is batched and worded.

Pure functions with the clock passed in: no Faust, no SQLAlchemy, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .all_day import due_phrase

__all__ = [
    "BATCH_WINDOW",
    "LATE_AFTER",
    "MAX_BEFORE_DUE",
    "DueReminder",
    "DurationError",
    "batch_message",
    "format_duration",
    "lateness_note",
    "parse_duration",
    "remind_at_before",
]

#: Same-user reminders due within this long of the first one go out as one notification.
BATCH_WINDOW = timedelta(minutes=1)
#: A notification sent later than this after its reminder was due says how late it is.
LATE_AFTER = timedelta(seconds=60)
#: A relative reminder further ahead of the due date than this is more likely a typo than a wish.
MAX_BEFORE_DUE = timedelta(days=365)

# Weeks, days, hours, minutes, seconds. Years and months are refused: their length depends on
# the date, which would make "P1M before due" move by a different amount each time it is shifted.
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class DurationError(ValueError):
    """Not an ISO-8601 duration this API accepts; the message says why."""


def parse_duration(value: str) -> timedelta:
    """`PT1H`, `P1D`, `P1DT2H30M`, `P2W` → a positive timedelta of whole seconds."""
    match = _DURATION.match(value.strip().upper()) if isinstance(value, str) else None
    if match is None:
        raise DurationError(
            f"{value!r} is not an ISO-8601 duration in weeks, days, hours, minutes or seconds (e.g. PT1H, P1DT12H)"
        )
    parts = {name: int(number) for name, number in match.groupdict().items() if number is not None}
    try:
        duration = timedelta(**parts)
    except OverflowError:
        raise DurationError(f"{value!r} is too long") from None
    if duration <= timedelta(0):
        raise DurationError(f"{value!r} must be longer than zero")
    if duration > MAX_BEFORE_DUE:
        raise DurationError(f"{value!r} is longer than {MAX_BEFORE_DUE.days} days")
    return duration


def format_duration(duration: timedelta) -> str:
    """The canonical ISO-8601 form: 3600 s → `PT1H`, 90000 s → `P1DT1H`."""
    seconds = int(duration.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    if not (days or time):
        return "PT0S"
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def remind_at_before(due: datetime, before: timedelta) -> datetime:
    """When a relative reminder fires: `before` ahead of the due date."""
    return due - before


@dataclass(frozen=True)
class DueReminder:
    """One reminder being delivered, with the task it is about."""

    reminder_id: str
    task_id: str
    task_title: str
    remind_at: datetime
    due_date: datetime | None
    #: Set for an all-day task: the day it is due (then due_date is only that day's last instant).
    due_day: date | None = None

    def due_key(self) -> date | datetime | None:
        return self.due_day if self.due_day is not None else self.due_date


def lateness_note(remind_at: datetime, now: datetime) -> str | None:
    """`delivered 3 min late` when a reminder goes out well after it was due (e.g. no worker was running)."""
    late = now - remind_at
    if late < LATE_AFTER:
        return None
    minutes = int(late.total_seconds() // 60)
    if minutes < 120:
        return f"delivered {minutes} min late"
    hours = minutes // 60
    return f"delivered {hours} h {minutes % 60} min late" if hours < 48 else f"delivered {hours // 24} days late"


_UTC = ZoneInfo("UTC")


def batch_message(reminders: Sequence[DueReminder], now: datetime, tz: ZoneInfo = _UTC) -> tuple[str, str]:
    """The (title, body) of one notification covering one or more of a user's due reminders, due times
    in the user's zone `tz`: `at 09:00 (Europe/Berlin)` today, with the date on another day, no time
    for an all-day task."""
    if not reminders:
        raise ValueError("a notification needs at least one reminder")
    ordered = sorted(reminders, key=lambda r: (r.remind_at, r.reminder_id))
    first = ordered[0]
    late = lateness_note(first.remind_at, now)

    def when(r: DueReminder, *, parenthesised: bool = True) -> str:
        assert r.due_date is not None
        return due_phrase(r.due_date, r.due_day, tz, now, parenthesised=parenthesised)

    if len(ordered) == 1:
        title = f"Reminder: {first.task_title}"
        body = f"{first.task_title} is due {when(first)}" if first.due_date else first.task_title
    else:
        dues = {r.due_key() for r in ordered}
        common = f" {when(first)}" if len(dues) == 1 and first.due_date else ""
        title = f"{len(ordered)} tasks due{common}" if common or all(r.due_date for r in ordered) else (
            f"{len(ordered)} reminders"
        )
        # Inside parentheses: no "at" and no second pair of parentheses, "(due 17:00 UTC)".
        body = "\n".join(
            f"- {r.task_title}" + (f" (due {when(r, parenthesised=False).removeprefix('at ')})" if r.due_date else "")
            for r in ordered
        )
    if late:
        body = f"{body}\n({late})"
    return title, body
