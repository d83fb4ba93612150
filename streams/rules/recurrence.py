"""Recurrence maths for repeating tasks: parse a rule, list its due times, find the next occurrence."""

from __future__ import annotations

import calendar
import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from dateutil.rrule import rrulestr

__all__ = [
    "MAX_COUNT",
    "MAX_INTERVAL",
    "MAX_SKIPPED",
    "Frequency",
    "NextOccurrence",
    "RepeatFrom",
    "Rule",
    "RuleError",
    "ical_dtstart",
    "localize",
    "next_occurrence",
    "parse_rule",
    "slot_index",
    "slots",
    "to_rrule",
]

MAX_INTERVAL = 1000
# Bounds the work of enforcing `count` on cron/rrule rules, whose position in
# the series can only be found by walking it from the start.
MAX_COUNT = 10_000
MAX_SKIPPED = 1000

_ONE_MICROSECOND = timedelta(microseconds=1)
_WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_WEEKDAY_NAMES = tuple(name.upper() for name in calendar.day_name)
_ORDINAL_WORDS = {"FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "LAST": -1}
_ORDINAL_SUFFIXES = {1: "ST", 2: "ND", 3: "RD", 4: "TH"}
_CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_RRULE_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# With none of these, YEARLY would fill in dtstart's month/day and the probe
# in _parse_rrule would no longer select a superset.
_DAY_FILTERS = r"(^|;)(BYMONTHDAY|BYYEARDAY|BYWEEKNO|BYDAY|BYEASTER)="
_FIELDS = frozenset(
    {
        "frequency",
        "interval",
        "by_weekday",
        "by_month_day",
        "by_nth_weekday",
        "cron",
        "rrule",
        "start_date",
        "timezone",
        "end_date",
        "count",
        "repeat_from",
    }
)


class Frequency(enum.StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    YEARLY = "YEARLY"


class RepeatFrom(enum.StrEnum):
    DUE_DATE = "due_date"
    COMPLETION_DATE = "completion_date"


class RuleError(ValueError):
    """A recurrence rule the API must refuse; `field` names the offending JSON field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Rule:
    """A validated recurrence rule. Build it with `parse_rule`; the fields mirror the JSON.

    Exactly one of `frequency`, `cron`, `rrule` is set. `start_date` is kept in
    the rule's timezone and has whole-second precision (as in iCalendar).
    """

    start_date: datetime
    timezone: str = "UTC"
    frequency: Frequency | None = None
    interval: int = 1
    by_weekday: tuple[int, ...] = ()  # 0 = Monday, sorted, no duplicates
    by_month_day: int | None = None  # 1..31, or -1 for the last day
    by_nth_weekday: tuple[int, int] | None = None  # (ordinal 1..4 or -1..-4, weekday 0..6)
    cron: str | None = None
    rrule: str | None = None  # the RRULE body, without "RRULE:", COUNT or UNTIL
    end_date: datetime | None = None
    count: int | None = None
    repeat_from: RepeatFrom = RepeatFrom.DUE_DATE

    # cached_property writes to the instance __dict__, which a frozen
    # dataclass allows; equality and hashing still use the fields only.
    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def local_start(self) -> datetime:
        return self.start_date.astimezone(self.tz)

    @cached_property
    def time_of_day(self) -> time:
        """The local wall-clock time every frequency-rule occurrence keeps."""
        return self.local_start.time()

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form; `parse_rule(rule.to_dict()) == rule`."""
        out: dict[str, Any] = {}
        if self.frequency is not None:
            out["frequency"] = self.frequency.value
            out["interval"] = self.interval
            if self.by_weekday:
                out["by_weekday"] = [_WEEKDAY_CODES[day] for day in self.by_weekday]
            if self.by_month_day is not None:
                out["by_month_day"] = self.by_month_day
            if self.by_nth_weekday is not None:
                ordinal, weekday = self.by_nth_weekday
                out["by_nth_weekday"] = f"{ordinal}{_WEEKDAY_CODES[weekday]}"
        elif self.cron is not None:
            out["cron"] = self.cron
        else:
            out["rrule"] = self.rrule
        out["start_date"] = self.start_date.isoformat()
        out["timezone"] = self.timezone
        if self.end_date is not None:
            out["end_date"] = self.end_date.isoformat()
        if self.count is not None:
            out["count"] = self.count
        out["repeat_from"] = self.repeat_from.value
        return out


@dataclass(frozen=True)
class NextOccurrence:
    """What a finished occurrence leads to.

    `due` is the next due time (UTC, always later than both the finished slot
    and `now`). `skipped` lists, oldest first, the due times that were already
    in the past when the previous occurrence was finished late; it holds at
    most MAX_SKIPPED entries and `skipped_truncated` says when more were
    dropped. `index` is the 0-based position of `due` in the series (the value
    to pass back as `finished_index` next time); it is None only where it
    cannot be computed cheaply: unbounded cron rules, and completion_date
    frequency rules called without `finished_index`.
    """

    due: datetime
    skipped: list[datetime] = field(default_factory=list)
    skipped_truncated: bool = False
    index: int | None = None


class _Slot(NamedTuple):
    position: int | None  # 0-based, counted from the start of the series; None when unknown
    wall: datetime  # the naive local wall time the rule asked for
    at: datetime  # the instant it resolves to, UTC


# --------------------------------------------------------------------------
# Local wall time -> instant


def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """Resolve a naive local wall time in `tz` to a UTC instant.

    A wall time that occurs twice (autumn fall-back) resolves to its first
    occurrence (fold=0). A wall time that does not exist (inside a spring-
    forward gap, e.g. 02:30 in Europe/Berlin on the last Sunday of March)
    resolves to the first valid instant after the gap, i.e. the transition
    itself (03:00 local), not "wall time plus the gap length" (03:30).
    """
    naive = wall.replace(tzinfo=None)
    instant = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == naive:
        return instant
    # Inside a gap fold=1 applies the post-transition offset, which lands
    # before the transition, and fold=0 lands after it; bisect between them
    # on whole seconds, the resolution of every tzdata transition.
    low = int(naive.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp()) - 1
    high = int(instant.timestamp()) + 1
    while high - low > 1:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            high = mid
        else:
            low = mid
    return datetime.fromtimestamp(high, UTC)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


# --------------------------------------------------------------------------
# Calendar arithmetic


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month0 + 1, min(day.day, _last_day(year, month0 + 1)))


def _add_years(day: date, years: int) -> date:
    year = day.year + years
    return date(year, day.month, min(day.day, _last_day(year, day.month)))


def _nth_weekday(year: int, month: int, ordinal: int, weekday: int) -> date:
    if ordinal > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (ordinal - 1))
    last = date(year, month, _last_day(year, month))
    return last - timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-ordinal - 1))


def _month_day(rule: Rule, year: int, month: int) -> date:
    """The rule's day in a month, always derived from the anchor, so it never drifts."""
    if rule.by_nth_weekday is not None:
        return _nth_weekday(year, month, *rule.by_nth_weekday)
    last = _last_day(year, month)
    if rule.by_month_day == -1:
        return date(year, month, last)
    wanted = rule.by_month_day if rule.by_month_day is not None else rule.local_start.day
    return date(year, month, min(wanted, last))


# --------------------------------------------------------------------------
# Frequency rules: a grid of periods, each holding the same number of slots


def _period_dates(rule: Rule, period: int) -> list[date]:
    start = rule.local_start.date()
    step = rule.interval * period
    match rule.frequency:
        case Frequency.DAILY:
            return [start + timedelta(days=step)]
        case Frequency.WEEKLY:
            monday = start - timedelta(days=start.weekday()) + timedelta(weeks=step)
            weekdays = rule.by_weekday or (start.weekday(),)
            return [monday + timedelta(days=weekday) for weekday in weekdays]
        case Frequency.MONTHLY:
            year, month0 = divmod(start.year * 12 + start.month - 1 + step, 12)
            return [_month_day(rule, year, month0 + 1)]
        case _:
            year = start.year + step
            return [date(year, start.month, min(start.day, _last_day(year, start.month)))]


def _period_of(rule: Rule, day: date) -> int:
    start = rule.local_start.date()
    match rule.frequency:
        case Frequency.DAILY:
            units = (day - start).days
        case Frequency.WEEKLY:
            units = (day - (start - timedelta(days=start.weekday()))).days // 7
        case Frequency.MONTHLY:
            units = (day.year * 12 + day.month) - (start.year * 12 + start.month)
        case _:
            units = day.year - start.year
    return units // rule.interval


def _first_period_size(rule: Rule) -> int:
    start = rule.local_start.date()
    return sum(1 for day in _period_dates(rule, 0) if day >= start)


def _period_size(rule: Rule) -> int:
    return len(rule.by_weekday) if rule.by_weekday else 1


def _slots_before_period(rule: Rule, period: int) -> int:
    if period <= 0:
        return 0
    return _first_period_size(rule) + (period - 1) * _period_size(rule)


def _frequency_slot(rule: Rule, day: date) -> tuple[datetime, datetime]:
    local_start = rule.local_start
    if day == local_start.date():
        # Use the start itself: re-resolving its wall time would pick fold=0
        # even when the start was given as the second of two equal wall times.
        return local_start.replace(tzinfo=None), rule.start_date.astimezone(UTC)
    wall = datetime.combine(day, rule.time_of_day)
    return wall, localize(wall, rule.tz)


def _frequency_series(rule: Rule, after: datetime | None) -> Iterator[_Slot]:
    period = 0
    if after is not None and after > rule.start_date:
        # One period of slack: a slot's local date and `after`'s can straddle
        # midnight around a DST change.
        period = max(0, _period_of(rule, _wall(after, rule.tz).date()) - 1)
    index = _slots_before_period(rule, period)
    start = rule.local_start.date()
    while True:
        try:
            days = _period_dates(rule, period)
            for day in days:
                if day < start:
                    continue
                wall, at = _frequency_slot(rule, day)
                yield _Slot(index, wall, at)
                index += 1
        except (OverflowError, ValueError):
            return  # past year 9999: the calendar ends, so does the series
        period += 1


def _frequency_nth(rule: Rule, index: int) -> _Slot | None:
    first = _first_period_size(rule)
    try:
        if index < first:
            start = rule.local_start.date()
            day = [day for day in _period_dates(rule, 0) if day >= start][index]
        else:
            period, offset = divmod(index - first, _period_size(rule))
            day = _period_dates(rule, period + 1)[offset]
        wall, at = _frequency_slot(rule, day)
    except (OverflowError, ValueError):
        return None
    return _Slot(index, wall, at)


# --------------------------------------------------------------------------
# cron and RRULE rules: walk local wall times, resolve each to an instant


def _resolved(rule: Rule, walls: Iterator[datetime], index: int | None) -> Iterator[_Slot]:
    """Resolve wall times in order; walls collapsing onto one instant (a DST gap) count once."""
    tz = rule.tz
    previous: datetime | None = None
    for wall in walls:
        try:
            at = localize(wall, tz)
        except (OverflowError, ValueError):
            return
        if at < rule.start_date or (previous is not None and at <= previous):
            continue
        previous = at
        yield _Slot(index, wall, at)
        if index is not None:
            index += 1


def _cron_walls(expression: str, begin: datetime) -> Iterator[datetime]:
    """Wall times the cron expression fires at, from `begin` inclusive."""
    iterator = croniter(expression, begin - _ONE_MICROSECOND)
    while True:
        try:
            yield iterator.get_next(datetime)
        except (CroniterBadDateError, OverflowError, ValueError):
            return


def _cron_series(rule: Rule, after: datetime | None, need_index: bool) -> Iterator[_Slot]:
    assert rule.cron is not None
    start_wall = _wall(rule.start_date, rule.tz)
    if need_index or after is None or after <= rule.start_date:
        return _resolved(rule, _cron_walls(rule.cron, start_wall), 0)
    # cron has no phase, so it can start anywhere; two days of slack cover any
    # DST gap that could fold an earlier wall time onto a later instant.
    begin = max(start_wall, _wall(after, rule.tz) - timedelta(days=2))
    return _resolved(rule, _cron_walls(rule.cron, begin), None)


def _rrule_series(rule: Rule) -> Iterator[_Slot]:
    # dateutil always walks from DTSTART (INTERVAL and BYSETPOS need the
    # phase), so positions come for free.
    assert rule.rrule is not None
    walls = iter(rrulestr("RRULE:" + rule.rrule, dtstart=_wall(rule.start_date, rule.tz)))
    return _resolved(rule, walls, 0)


# --------------------------------------------------------------------------
# The series, bounded by end_date and count


def _series(rule: Rule, after: datetime | None = None, *, need_index: bool = False) -> Iterator[_Slot]:
    """Slots strictly after `after` (all of them when None), in order, ending at end_date/count."""
    if rule.frequency is not None:
        base = _frequency_series(rule, after)
    elif rule.cron is not None:
        base = _cron_series(rule, after, need_index or rule.count is not None)
    else:
        base = _rrule_series(rule)
    for slot in base:
        if rule.end_date is not None and slot.at > rule.end_date:
            return
        if rule.count is not None and slot.position is not None and slot.position >= rule.count:
            return
        if after is not None and slot.at <= after:
            continue
        yield slot


def _first_after(rule: Rule, after: datetime | None, *, need_index: bool = False) -> _Slot | None:
    return next(_series(rule, after, need_index=need_index), None)


def _nth_slot(rule: Rule, index: int) -> _Slot | None:
    """The slot at `index`, ignoring end_date and count."""
    if rule.frequency is not None:
        return _frequency_nth(rule, index)
    unbounded = replace(rule, end_date=None, count=None)
    for slot in _series(unbounded, need_index=True):
        if slot.position == index:
            return slot
    return None


def slots(rule: Rule, *, after: datetime | None = None, limit: int) -> list[datetime]:
    """The next up-to-`limit` due times (UTC) strictly after `after`.

    With `after=None` the series is listed from its first slot, which is
    `start_date` itself whenever start_date matches the rule (always, for a
    frequency rule without by_* fields) and otherwise the first match after
    it. end_date is inclusive; `count` counts from the first slot, so the
    count-th slot overall is the last one, wherever `after` falls.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if after is not None:
        _require_aware("after", after)
    out: list[datetime] = []
    if limit == 0:
        return out
    for slot in _series(rule, after):
        out.append(slot.at)
        if len(out) == limit:
            break
    return out


def slot_index(rule: Rule, slot: datetime) -> int | None:
    """The 0-based position of `slot` in the series, or None if it is not one of its slots.

    O(1) for frequency rules; cron and rrule rules walk the series from the
    start, so this costs time proportional to the answer.
    """
    _require_aware("slot", slot)
    found = _first_after(rule, slot - _ONE_MICROSECOND, need_index=True)
    if found is None or found.at != slot:
        return None
    return found.position


# --------------------------------------------------------------------------
# The next occurrence of a finished task


def next_occurrence(
    rule: Rule,
    *,
    finished_slot: datetime,
    completed_at: datetime | None,
    now: datetime,
    finished_index: int | None = None,
) -> NextOccurrence | None:
    """The occurrence that follows a finished one, or None when the series has ended.

    repeat_from=due_date: the first slot after `finished_slot`.

    repeat_from=completion_date:
      * cron and rrule rules: the first slot after both `finished_slot` and
        `completed_at` (the grid is fixed; only the starting point moves).
      * frequency rules: the series restarts at the completion. Take
        completed_at's local date in the rule's timezone, add `interval`
        days / weeks / months / years (Jan 31 + 1 month = Feb 28/29; Feb 29
        + 1 year = Feb 28), and keep the rule's time of day. The defaults
        taken from start_date (weekday, day of month, month/day of year) are
        re-anchored at the completion; explicit by_weekday / by_month_day /
        by_nth_weekday still apply, moving the date forward to the first day
        that matches them ("at least N units after completion, on a listed
        day"). The result is never at or before `finished_slot`: a task
        completed early steps forward again, so due times only ever increase
        along a series. `count` needs `finished_index` (the finished
        occurrence's position, returned as `NextOccurrence.index` by the
        previous call) because completion dates are not on a fixed grid;
        without it a rule with `count` raises ValueError.
      * completed_at=None (closed without a completion time) behaves as
        repeat_from=due_date.

    Finished late: when that due time is not after `now`, the occurrences
    that are already past are skipped (listed, up to MAX_SKIPPED) and the
    first one after `now` is returned. Skipped slots count toward `count`.
    If the series ends (end_date or count) before a due time after `now`,
    the result is None.
    """
    _require_aware("finished_slot", finished_slot)
    _require_aware("now", now)
    if completed_at is not None:
        _require_aware("completed_at", completed_at)
    if rule.repeat_from is RepeatFrom.DUE_DATE or completed_at is None:
        return _next_on_grid(rule, finished_slot, now)
    if rule.frequency is None:
        return _next_on_grid(rule, max(finished_slot, completed_at), now)
    return _next_after_completion(rule, finished_slot, completed_at, now, finished_index)


def _next_on_grid(rule: Rule, after: datetime, now: datetime) -> NextOccurrence | None:
    series = _series(rule, after)
    skipped: list[datetime] = []
    for slot in series:
        if slot.at > now:
            return NextOccurrence(due=slot.at, skipped=skipped, index=slot.position)
        if len(skipped) == MAX_SKIPPED:
            break
        skipped.append(slot.at)
    else:
        return None
    # More than MAX_SKIPPED are past: jump straight to the first slot after now.
    upcoming = _first_after(rule, now)
    if upcoming is None:
        return None
    return NextOccurrence(due=upcoming.at, skipped=skipped, skipped_truncated=True, index=upcoming.position)


def _completion_step(rule: Rule, day: date) -> date:
    """The first date allowed `interval` units after `day` (see next_occurrence)."""
    interval = rule.interval
    match rule.frequency:
        case Frequency.DAILY:
            earliest = day + timedelta(days=interval)
        case Frequency.WEEKLY:
            earliest = day + timedelta(weeks=interval)
        case Frequency.MONTHLY:
            earliest = _add_months(day, interval)
        case _:
            earliest = _add_years(day, interval)
    if rule.by_weekday:
        return earliest + timedelta(days=min((wd - earliest.weekday()) % 7 for wd in rule.by_weekday))
    if rule.by_month_day is not None or rule.by_nth_weekday is not None:
        candidate = _month_day(rule, earliest.year, earliest.month)
        if candidate < earliest:
            following = _add_months(earliest.replace(day=1), 1)
            candidate = _month_day(rule, following.year, following.month)
        return candidate
    return earliest


def _next_after_completion(
    rule: Rule,
    finished_slot: datetime,
    completed_at: datetime,
    now: datetime,
    finished_index: int | None,
) -> NextOccurrence | None:
    if rule.count is not None and finished_index is None:
        raise ValueError("finished_index is required for a completion_date rule with a count")
    tz = rule.tz
    wall_time = rule.time_of_day
    day = _wall(completed_at, tz).date()
    skipped: list[datetime] = []
    truncated = False
    passed = 0
    try:
        day = _completion_step(rule, day)
        due = localize(datetime.combine(day, wall_time), tz)
        while due <= finished_slot:
            day = _completion_step(rule, day)
            due = localize(datetime.combine(day, wall_time), tz)
        while due <= now:
            passed += 1
            if len(skipped) < MAX_SKIPPED:
                skipped.append(due)
            else:
                truncated = True
            if rule.end_date is not None and due > rule.end_date:
                return None
            day = _completion_step(rule, day)
            due = localize(datetime.combine(day, wall_time), tz)
    except (OverflowError, ValueError):
        return None
    if rule.end_date is not None and due > rule.end_date:
        return None
    index = None if finished_index is None else finished_index + 1 + passed
    if rule.count is not None and index is not None and index >= rule.count:
        return None
    return NextOccurrence(due=due, skipped=skipped, skipped_truncated=truncated, index=index)


# --------------------------------------------------------------------------
# iCalendar export


def ical_stamp(moment: datetime) -> str:
    """RFC 5545's basic date-time, YYYYMMDDTHHMMSS: strftime's %Y drops the zero padding before year 1000."""
    return f"{moment.year:04d}{moment:%m%dT%H%M%S}"


def ical_dtstart(rule: Rule) -> str:
    """The DTSTART line to pair with `to_rrule`: the first slot's local wall time.

    The first slot rather than start_date, because RFC 5545 always counts
    DTSTART as an occurrence even when it does not match the rule.
    """
    first = _first_after(rule, None)
    wall = first.wall if first is not None else _wall(rule.start_date, rule.tz)
    if rule.timezone == "UTC":
        return f"DTSTART:{ical_stamp(wall)}Z"
    return f"DTSTART;TZID={rule.timezone}:{ical_stamp(wall)}"


def to_rrule(rule: Rule) -> str | None:
    """An RFC 5545 "RRULE:..." line for iCalendar export (pair it with `ical_dtstart`).

    Fed to dateutil together with `ical_dtstart`, it yields the same local wall
    times as `slots`. Two limits of iCalendar apply: it has whole-second
    precision, and RFC 5545 places a wall time inside a DST gap at "wall time
    plus the gap" (03:30) where this module uses the first valid instant (03:00).
    Returns None for cron rules RRULE cannot express: both day-of-month and
    day-of-week restricted (cron ORs them, RRULE ANDs them).
    """
    if rule.frequency is not None:
        parts = _frequency_rrule_parts(rule)
    elif rule.cron is not None:
        cron_parts = _cron_rrule_parts(rule.cron)
        if cron_parts is None:
            return None
        parts = cron_parts
    else:
        assert rule.rrule is not None
        parts = [rule.rrule]
    parts.extend(_rrule_end_parts(rule))
    return "RRULE:" + ";".join(parts)


def _last_days_rrule(day: int) -> str:
    # "the day, or the month's last day if shorter": the latest of 28..day that the month has.
    return "BYMONTHDAY=" + ",".join(str(d) for d in range(28, day + 1)) + ";BYSETPOS=-1"


def _frequency_rrule_parts(rule: Rule) -> list[str]:
    assert rule.frequency is not None
    parts = [f"FREQ={rule.frequency.value}"]
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    start = rule.local_start
    if rule.frequency is Frequency.WEEKLY and rule.by_weekday:
        parts.append("BYDAY=" + ",".join(_WEEKDAY_CODES[day] for day in rule.by_weekday))
        parts.append("WKST=MO")
    elif rule.frequency is Frequency.MONTHLY:
        if rule.by_nth_weekday is not None:
            ordinal, weekday = rule.by_nth_weekday
            parts.append(f"BYDAY={ordinal}{_WEEKDAY_CODES[weekday]}")
        else:
            day = rule.by_month_day if rule.by_month_day is not None else start.day
            parts.append("BYMONTHDAY=-1" if day == -1 else _last_days_rrule(day) if day > 28 else f"BYMONTHDAY={day}")
    elif rule.frequency is Frequency.YEARLY:
        parts.append(f"BYMONTH={start.month}")
        parts.append(_last_days_rrule(29) if (start.month, start.day) == (2, 29) else f"BYMONTHDAY={start.day}")
    return parts


def _cron_rrule_parts(expression: str) -> list[str] | None:
    parsed = croniter(expression)
    minutes, hours, month_days, months, weekdays = parsed.expanded
    nth = parsed.nth_weekday_of_month
    if month_days != ["*"] and weekdays != ["*"]:
        return None
    parts = ["FREQ=MONTHLY" if nth else "FREQ=DAILY"]
    if months != ["*"]:
        parts.append("BYMONTH=" + ",".join(str(m) for m in sorted(months)))
    if month_days != ["*"]:
        days = sorted({-1 if str(d).lower() == "l" else int(d) for d in month_days})
        parts.append("BYMONTHDAY=" + ",".join(str(d) for d in days))
    if weekdays != ["*"]:
        codes: list[str] = []
        for cron_day in sorted({int(d) % 7 for d in weekdays}):
            code = _WEEKDAY_CODES[(cron_day - 1) % 7]  # cron counts from Sunday = 0
            if cron_day in nth:
                codes.extend(f"{n}{code}" for n in sorted(nth[cron_day]))
            else:
                codes.append(code)
        parts.append("BYDAY=" + ",".join(codes))
    parts.append("BYHOUR=" + ",".join(str(h) for h in (range(24) if hours == ["*"] else sorted(hours))))
    parts.append("BYMINUTE=" + ",".join(str(m) for m in (range(60) if minutes == ["*"] else sorted(minutes))))
    parts.append("BYSECOND=0")
    return parts


def _rrule_end_parts(rule: Rule) -> list[str]:
    # RFC 5545 forbids COUNT together with UNTIL: keep whichever ends first.
    if rule.count is not None:
        last = _nth_slot(rule, rule.count - 1)
        if rule.end_date is None or (last is not None and last.at <= rule.end_date):
            return [f"COUNT={rule.count}"]
    if rule.end_date is not None:
        return [f"UNTIL={ical_stamp(rule.end_date.astimezone(UTC))}Z"]
    return []


# --------------------------------------------------------------------------
# Parsing and validation


def parse_rule(data: Mapping[str, Any]) -> Rule:
    """Validate the API's JSON form of a rule; raise RuleError naming the first bad field.

    Accepts exactly one of `frequency` (DAILY/WEEKLY/MONTHLY/YEARLY, any case,
    with `interval`, `by_weekday`, `by_month_day`, `by_nth_weekday`), `cron`
    (five fields, or @daily-style aliases) or `rrule` (an RFC 5545 RRULE body,
    "RRULE:" prefix optional; its COUNT/UNTIL become `count`/`end_date`).
    `start_date` is an aware datetime or an ISO-8601 string with an offset;
    `end_date` may also be a plain date, meaning through the end of that day
    in `timezone`.
    """
    if not isinstance(data, Mapping):
        raise RuleError("rule", "must be an object")
    for key in data:
        if key not in _FIELDS:
            raise RuleError(str(key), "unknown field")
    tz_name = _parse_timezone(_get(data, "timezone", "UTC"))
    tz = ZoneInfo(tz_name)
    if data.get("start_date") is None:
        raise RuleError("start_date", "is required")
    try:
        start = _parse_instant("start_date", data["start_date"]).astimezone(tz).replace(microsecond=0)
    except OverflowError:
        raise RuleError("start_date", "is outside the supported range of dates") from None

    kinds = [kind for kind in ("frequency", "cron", "rrule") if data.get(kind) is not None]
    if not kinds:
        raise RuleError("frequency", "one of frequency, cron or rrule is required")
    if len(kinds) > 1:
        raise RuleError(kinds[1], f"give only one of frequency, cron or rrule (got {', '.join(kinds)})")
    kind = kinds[0]
    if kind != "frequency":
        for key in ("interval", "by_weekday", "by_month_day", "by_nth_weekday"):
            if data.get(key) is not None:
                raise RuleError(key, f"only applies to frequency rules, not {kind}")

    fields: dict[str, Any] = {"start_date": start, "timezone": tz_name}
    count = _parse_count(data.get("count"))
    end = None if data.get("end_date") is None else _parse_end("end_date", data["end_date"], tz)
    if kind == "frequency":
        fields.update(_parse_frequency_fields(data))
    elif kind == "cron":
        fields["cron"] = _parse_cron(data["cron"], start)
    else:
        body, rrule_count, rrule_end = _parse_rrule(data["rrule"], start, tz)
        fields["rrule"] = body
        if rrule_count is not None:
            if count is not None:
                raise RuleError("rrule", "COUNT conflicts with count; give it once")
            count = rrule_count
        if rrule_end is not None:
            if end is not None:
                raise RuleError("rrule", "UNTIL conflicts with end_date; give it once")
            if rrule_end < start:
                raise RuleError("rrule", "UNTIL is before start_date")
            end = rrule_end
    if end is not None and end < start:
        raise RuleError("end_date", "must not be before start_date")
    fields["end_date"] = end
    fields["count"] = count
    fields["repeat_from"] = _parse_repeat_from(_get(data, "repeat_from", RepeatFrom.DUE_DATE.value))
    parsed = Rule(**fields)
    # A series without a single slot is always a mistake, and the agents
    # would otherwise treat the template as finished before it started.
    if _first_after(parsed, None) is None:
        if end is not None:
            raise RuleError("end_date", "is before the first occurrence")
        raise RuleError(kind, "never fires")
    return parsed


def _get(data: Mapping[str, Any], key: str, default: Any) -> Any:
    # JSON null means "not given", like a missing key.
    value = data.get(key)
    return default if value is None else value


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _parse_timezone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError("timezone", "must be an IANA timezone name such as 'Europe/Berlin'")
    name = value.strip()
    # "localtime" is whatever the server is set to: not a zone a user can mean.
    if name == "localtime":
        raise RuleError("timezone", f"unknown timezone {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RuleError("timezone", f"unknown timezone {name!r}") from None
    return name


def _parse_instant(name: str, value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RuleError(name, f"not an ISO-8601 date-time: {value!r}") from None
    if not isinstance(value, datetime):
        raise RuleError(name, "must be an ISO-8601 date-time with a UTC offset")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleError(name, "needs a UTC offset, e.g. '2024-01-31T09:00:00+01:00'")
    return value


def _parse_end(name: str, value: Any, tz: ZoneInfo) -> datetime:
    day: date | None = None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise RuleError(name, f"not an ISO-8601 date: {value!r}") from None
    if day is not None:
        try:
            return (localize(datetime.combine(day + timedelta(days=1), time()), tz) - _ONE_MICROSECOND).astimezone(tz)
        except OverflowError:
            return datetime.max.replace(tzinfo=UTC)
    return _parse_instant(name, value).astimezone(tz)


def _parse_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleError(name, f"must be an integer from {low} to {high}")
    return value


def _parse_count(value: Any) -> int | None:
    return None if value is None else _parse_int("count", value, 1, MAX_COUNT)


def _parse_repeat_from(value: Any) -> RepeatFrom:
    try:
        return RepeatFrom(str(value).strip().lower())
    except ValueError:
        raise RuleError("repeat_from", "must be 'due_date' or 'completion_date'") from None


def _parse_weekday(name: str, value: Any) -> int:
    text = str(value).strip().upper() if isinstance(value, str) else ""
    if text in _WEEKDAY_CODES:
        return _WEEKDAY_CODES.index(text)
    if text in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES.index(text)
    raise RuleError(name, f"unknown weekday {value!r}; use MO, TU, WE, TH, FR, SA or SU")


def _parse_frequency_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    raw = data["frequency"]
    try:
        frequency = Frequency(str(raw).strip().upper())
    except ValueError:
        raise RuleError("frequency", "must be DAILY, WEEKLY, MONTHLY or YEARLY") from None
    out: dict[str, Any] = {
        "frequency": frequency,
        "interval": _parse_int("interval", _get(data, "interval", 1), 1, MAX_INTERVAL),
    }
    if data.get("by_weekday") is not None:
        if frequency is not Frequency.WEEKLY:
            raise RuleError("by_weekday", "only applies to WEEKLY rules")
        raw_days = data["by_weekday"]
        if not isinstance(raw_days, (list, tuple)) or not raw_days:
            raise RuleError("by_weekday", "must be a non-empty list such as ['MO', 'TH']")
        out["by_weekday"] = tuple(sorted({_parse_weekday("by_weekday", day) for day in raw_days}))
    month_day, nth = data.get("by_month_day"), data.get("by_nth_weekday")
    for key, value in (("by_month_day", month_day), ("by_nth_weekday", nth)):
        if value is not None and frequency is not Frequency.MONTHLY:
            raise RuleError(key, "only applies to MONTHLY rules")
    if month_day is not None and nth is not None:
        raise RuleError("by_nth_weekday", "give either by_month_day or by_nth_weekday, not both")
    if month_day is not None:
        if (
            isinstance(month_day, bool)
            or not isinstance(month_day, int)
            or not (1 <= month_day <= 31 or month_day == -1)
        ):
            raise RuleError("by_month_day", "must be a day from 1 to 31, or -1 for the last day")
        out["by_month_day"] = month_day
    if nth is not None:
        out["by_nth_weekday"] = _parse_nth_weekday(nth)
    return out


_NTH_NUMERIC = re.compile(r"([+-]?\d+)\s*(ST|ND|RD|TH)?\s*([A-Z]+)")
_NTH_WORDS = re.compile(r"(FIRST|SECOND|THIRD|FOURTH|LAST)\s+([A-Z]+)")


def _parse_nth_weekday(value: Any) -> tuple[int, int]:
    """'2TU', '-1FR', '2nd TU', 'last FR', 'second tuesday' -> (ordinal, weekday)."""
    problem = "must look like '2TU', '-1FR', '2nd TU' or 'last FR'"
    if not isinstance(value, str):
        raise RuleError("by_nth_weekday", problem)
    text = " ".join(value.strip().upper().split())
    if match := _NTH_NUMERIC.fullmatch(text):
        ordinal = int(match.group(1))
        if match.group(2) is not None and match.group(2) != _ORDINAL_SUFFIXES.get(ordinal):
            raise RuleError("by_nth_weekday", problem)
        weekday_text = match.group(3)
    elif match := _NTH_WORDS.fullmatch(text):
        ordinal = _ORDINAL_WORDS[match.group(1)]
        weekday_text = match.group(2)
    else:
        raise RuleError("by_nth_weekday", problem)
    # A 5th weekday is missing from most months; rather than skip months
    # silently, ask for "last" which every month has.
    if ordinal == 0 or not -4 <= ordinal <= 4:
        raise RuleError(
            "by_nth_weekday", "the ordinal must be 1 to 4, or -1 (last) to -4; use 'last' for a 5th weekday"
        )
    return ordinal, _parse_weekday("by_nth_weekday", weekday_text)


def _parse_cron(value: Any, start: datetime) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError("cron", "must be a five-field cron expression such as '0 9 * * 1-5'")
    expression = " ".join(value.split())
    expression = _CRON_ALIASES.get(expression.lower(), expression)
    fields = expression.split(" ")
    if len(fields) != 5:
        raise RuleError("cron", f"needs exactly five fields (minute hour day month weekday), got {len(fields)}")
    # croniter's R (random) and H (hashed) extensions would make due times
    # differ between workers and replays.
    if any(re.search(r"(^|[^A-Z])[RH]($|[^A-Z])", part.upper()) for part in fields):
        raise RuleError("cron", "the R and H extensions are not supported")
    if not croniter.is_valid(expression):
        raise RuleError("cron", f"not a valid cron expression: {expression!r}")
    try:
        croniter(expression, start.replace(tzinfo=None)).get_next(datetime)
    except CroniterBadDateError:
        raise RuleError("cron", f"{expression!r} never fires") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise RuleError("cron", f"not a valid cron expression: {exc}") from None
    return expression


def _parse_rrule(value: Any, start: datetime, tz: ZoneInfo) -> tuple[str, int | None, datetime | None]:
    if not isinstance(value, str) or not value.strip():
        raise RuleError("rrule", "must be an RRULE such as 'FREQ=WEEKLY;BYDAY=MO,WE'")
    body = value.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if any(ch in body for ch in ":\r\n"):
        raise RuleError("rrule", "give one RRULE line without DTSTART; use start_date and timezone instead")
    kept: list[str] = []
    count: int | None = None
    until: datetime | None = None
    frequency = None
    for part in filter(None, body.upper().split(";")):
        key, sep, val = part.partition("=")
        if not sep:
            raise RuleError("rrule", f"malformed part {part!r}")
        if key == "COUNT":
            if not val.isdigit() or not 1 <= int(val) <= MAX_COUNT:
                raise RuleError("rrule", f"COUNT must be an integer from 1 to {MAX_COUNT}")
            count = int(val)
            continue
        if key == "UNTIL":
            until = _parse_rrule_until(val, tz)
            continue
        if key == "FREQ":
            frequency = val
        if key == "INTERVAL" and (not val.isdigit() or not 1 <= int(val) <= MAX_INTERVAL):
            raise RuleError("rrule", f"INTERVAL must be an integer from 1 to {MAX_INTERVAL}")
        kept.append(part)
    if frequency not in _RRULE_FREQUENCIES:
        raise RuleError("rrule", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY; use cron for sub-daily schedules")
    body = ";".join(kept)
    wall_start = start.replace(tzinfo=None)
    try:
        if frequency in ("DAILY", "WEEKLY") and re.search(_DAY_FILTERS, body) and "BYSETPOS" not in body:
            # dateutil walks every day/week up to year 9999 looking for a
            # match that can never come (seconds of CPU). Under YEARLY the
            # same day filters (ordinals dropped: DAILY/WEEKLY ignore them)
            # select a superset of days and fail within milliseconds.
            probe = re.sub(r"(^|;)(FREQ|INTERVAL)=[^;]*", "", body)
            probe = re.sub(r"(?<=[=,])[+-]?\d+(?=[A-Z]{2})", "", probe).strip(";")
            if next(iter(rrulestr(f"RRULE:FREQ=YEARLY;{probe}", dtstart=wall_start)), None) is None:
                raise RuleError("rrule", "never fires")
        first = next(iter(rrulestr("RRULE:" + body, dtstart=wall_start)), None)
    except RuleError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise RuleError("rrule", f"not a valid RRULE: {exc}") from None
    if first is None:
        raise RuleError("rrule", "never fires")
    return body, count, until


def _parse_rrule_until(value: str, tz: ZoneInfo) -> datetime:
    try:
        if re.fullmatch(r"\d{8}", value):
            return _parse_end("rrule", f"{value[:4]}-{value[4:6]}-{value[6:]}", tz)
        if re.fullmatch(r"\d{8}T\d{6}Z", value):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).astimezone(tz)
        if re.fullmatch(r"\d{8}T\d{6}", value):
            return localize(datetime.strptime(value, "%Y%m%dT%H%M%S"), tz).astimezone(tz)
    except ValueError:
        pass
    raise RuleError("rrule", f"UNTIL must look like 20241231, 20241231T235959 or 20241231T235959Z, got {value!r}")
