"""The filter language's SQL compiler: a parsed filter (streams/rules/filterlang.py) as a parameterised SQL predicate."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .sql import Params

from streams.rules.filterlang import (
    AbsoluteDay,
    AbsoluteInstant,
    And,
    Comparison,
    DateRef,
    DateTerm,
    DoneTerm,
    NoDueDate,
    Node,
    Not,
    Or,
    Overdue,
    PeriodEnd,
    Priority,
    PriorityTerm,
    RecurringTerm,
    RelativeDay,
    RelativeInstant,
    TagTerm,
    TextTerm,
)

__all__ = ["FilterColumns", "compile_filter"]


@dataclass(frozen=True, slots=True)
class FilterColumns:
    """The SQL expressions (text) a filter is compiled against.

    ``tags`` must be a PostgreSQL ``text[]``. ``priority``, ``tags``, ``created_at`` and
    ``completed`` are assumed NOT NULL and ``text_match(phrase, quoted, params)`` must return a
    boolean SQL expression that never yields NULL: then every term is a plain true/false predicate
    and ``!term`` is its exact complement.
    """

    priority: str
    tags: str
    due_date: str
    created_at: str
    completed: str
    recurring_task_id: str
    text_match: Callable[[str, bool, Params], str]


def compile_filter(node: Node, *, now: datetime, tz: ZoneInfo, columns: FilterColumns, params: Params) -> str:
    """Compile a parsed filter to a boolean SQL expression; every user value is an argument in `params`.

    Dates resolve against ``now`` in the user's zone ``tz``; every bound becomes
    a UTC instant:

    * A *day* (``2026-01-01``, ``today``, ``tomorrow``, ``yesterday``) is the local
      interval ``[start, end)`` from the local midnight starting that day to the one
      starting the next, so DST days last 23 or 25 hours. ``<D`` is ``< start``,
      ``<=D`` is ``< end``, ``>D`` is ``>= end``, ``>=D`` is ``>= start``, ``:D`` is
      ``start <= x < end``.
    * An *instant* (an ISO datetime with offset; ``Nd`` = now plus N calendar days at
      the same local wall-clock time; ``Nw`` = 7N days; N may be negative) compares
      exactly with ``<``, ``<=``, ``>``, ``>=``; ``:`` means the local day containing
      it. A wall-clock time that falls in a DST gap moves forward by the gap; an
      ambiguous one takes its first occurrence.
    * ``eow`` / ``eom`` name the end of the current local week (weeks start on
      Monday) / month: the bound ``E`` is the local midnight starting next Monday /
      the 1st of next month. ``<`` and ``<=`` mean ``< E``; ``>`` and ``>=`` mean
      ``>= E``; ``:`` means the last local day of the period (the day before ``E``).
    * ``overdue`` is ``due_date < now`` and not completed; ``due:none`` is "no due date".

    Due-date terms are false, never NULL, for tasks without a due date, so
    ``!due<7d`` includes them. Raises ``ValueError`` for a naive ``now``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("compile_filter needs a timezone-aware 'now'")
    return _Compiler(now, tz, columns, params).compile(node)


_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


#: Terms that compile to more than one predicate: parenthesised as an operand of AND or OR.
_COMPOUND = (And, Or, DateTerm, Overdue)


@dataclass(frozen=True, slots=True)
class _Span:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class _Instant:
    at: datetime


@dataclass(frozen=True, slots=True)
class _Bound:
    end: datetime
    last_day: _Span


class _Compiler:
    def __init__(self, now: datetime, tz: ZoneInfo, columns: FilterColumns, params: Params) -> None:
        self._now = now.astimezone(UTC)
        self._local_now = now.astimezone(tz)
        self._tz = tz
        self._columns = columns
        self._p = params

    def compile(self, node: Node) -> str:
        cols, p = self._columns, self._p
        match node:
            case And(operands):
                return " AND ".join(self._operand(operand) for operand in operands)
            case Or(operands):
                return " OR ".join(self._operand(operand) for operand in operands)
            case Not(DoneTerm(done)):  # "IS NOT true" reads better than "NOT (... IS true)", and means the same
                return self.compile(DoneTerm(not done))
            case Not(operand):
                return f"NOT ({self.compile(operand)})"
            case PriorityTerm(op, level):
                return self._priority(op, level)
            case TagTerm(tag):
                return f"{cols.tags} @> {p([tag], 'text[]')}"
            case DateTerm("due", op, value):
                # NULL-safe, so that "!due<7d" also matches tasks without a due date.
                return f"{cols.due_date} IS NOT NULL AND {self._compare(cols.due_date, op, value)}"
            case DateTerm(_, op, value):
                return self._compare(cols.created_at, op, value)
            case NoDueDate():
                return f"{cols.due_date} IS NULL"
            case DoneTerm(done):
                return f"{cols.completed} IS true" if done else f"{cols.completed} IS NOT true"
            case RecurringTerm(recurring):
                return f"{cols.recurring_task_id} IS {'NOT NULL' if recurring else 'NULL'}"
            case Overdue():
                return (f"{cols.due_date} IS NOT NULL AND {cols.due_date} < {p(self._now, 'timestamptz')} "
                        f"AND {cols.completed} IS NOT true")
            case TextTerm(text, quoted):
                return cols.text_match(text, quoted, p)
        raise TypeError(f"not a filter node: {node!r}")

    def _operand(self, node: Node) -> str:
        sql = self.compile(node)
        return f"({sql})" if isinstance(node, _COMPOUND) else sql

    def _priority(self, op: Comparison, level: Priority) -> str:
        column = self._columns.priority
        if op == ":":
            return f"{column} = {self._p(level.name)}"
        # An ordering over a text column is spelled out as the levels it admits.
        names = [p.name for p in Priority if _ORDERING[op](p, level)]
        return f"{column} IN ({', '.join(self._p(name) for name in names)})" if names else "false"

    def _compare(self, column: str, op: Comparison, ref: DateRef) -> str:
        resolved = self._resolve(ref)
        at = self._instant
        if op == ":":
            span = self._day_of(resolved.at) if isinstance(resolved, _Instant) else resolved
            if isinstance(span, _Bound):
                span = span.last_day
            return f"{column} >= {at(span.start)} AND {column} < {at(span.end)}"
        if isinstance(resolved, _Instant):
            return f"{column} {op} {at(resolved.at)}"
        if isinstance(resolved, _Bound):
            return f"{column} < {at(resolved.end)}" if op in ("<", "<=") else f"{column} >= {at(resolved.end)}"
        # A day is half-open, so "<=D" stops where the next day starts and ">D" starts there.
        if op == "<":
            return f"{column} < {at(resolved.start)}"
        if op == "<=":
            return f"{column} < {at(resolved.end)}"
        if op == ">":
            return f"{column} >= {at(resolved.end)}"
        return f"{column} >= {at(resolved.start)}"

    def _instant(self, value: datetime) -> str:
        return self._p(value, "timestamptz")

    def _resolve(self, ref: DateRef) -> _Span | _Instant | _Bound:
        today = self._local_now.date()
        match ref:
            case AbsoluteDay(day):
                return self._day(day)
            case RelativeDay(days):
                return self._day(today + timedelta(days=days))
            case AbsoluteInstant(at):
                return _Instant(at.astimezone(UTC))
            case RelativeInstant(days):
                # Same-zone datetime arithmetic is wall-clock arithmetic, so
                # "7d" keeps the local time of day across a DST change.
                return _Instant((self._local_now + timedelta(days=days)).astimezone(UTC))
            case PeriodEnd(period):
                if period == "week":
                    following = today + timedelta(days=7 - today.weekday())
                else:
                    following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
                return _Bound(self._midnight(following), self._day(following - timedelta(days=1)))
        raise TypeError(f"not a date reference: {ref!r}")

    def _day(self, day: date) -> _Span:
        return _Span(self._midnight(day), self._midnight(day + timedelta(days=1)))

    def _day_of(self, at: datetime) -> _Span:
        return self._day(at.astimezone(self._tz).date())

    def _midnight(self, day: date) -> datetime:
        # fold=0 makes a midnight lost to a DST gap resolve to the gap's start,
        # which is the first instant of that local day.
        return datetime.combine(day, time.min, tzinfo=self._tz).astimezone(UTC)
