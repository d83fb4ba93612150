"""The filter language's SQL compiler: a parsed filter (streams/rules/filterlang.py) as a SQLAlchemy predicate."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, false, not_, or_

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
    """The SQL expressions a filter is compiled against.

    ``tags`` must use the PostgreSQL ``ARRAY`` type (its ``contains`` is ``@>``).
    ``priority``, ``tags``, ``created_at`` and ``completed`` are assumed NOT NULL
    and ``text_match(phrase, quoted)`` must return a Boolean-typed expression
    (e.g. built with ``bool_op("@@")``) that never yields NULL: then every term
    is a plain true/false predicate and ``!term`` is its exact complement.
    """

    priority: SQLColumnExpression[Any]
    tags: SQLColumnExpression[Any]
    due_date: SQLColumnExpression[Any]
    created_at: SQLColumnExpression[Any]
    completed: SQLColumnExpression[Any]
    recurring_task_id: SQLColumnExpression[Any]
    text_match: Callable[[str, bool], ColumnElement[bool]]


def compile_filter(node: Node, *, now: datetime, tz: ZoneInfo, columns: FilterColumns) -> ColumnElement[bool]:
    """Compile a parsed filter to a boolean SQL expression; every user value is a bound parameter.

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
    return _Compiler(now, tz, columns).compile(node)


_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


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
    def __init__(self, now: datetime, tz: ZoneInfo, columns: FilterColumns) -> None:
        self._now = now.astimezone(UTC)
        self._local_now = now.astimezone(tz)
        self._tz = tz
        self._columns = columns

    def compile(self, node: Node) -> ColumnElement[bool]:
        cols = self._columns
        match node:
            case And(operands):
                return and_(*(self.compile(operand) for operand in operands))
            case Or(operands):
                return or_(*(self.compile(operand) for operand in operands))
            case Not(operand):
                return not_(self.compile(operand))
            case PriorityTerm(op, level):
                return self._priority(op, level)
            case TagTerm(tag):
                return cols.tags.contains([tag])
            case DateTerm("due", op, value):
                # NULL-safe, so that "!due<7d" also matches tasks without a due date.
                return and_(cols.due_date.is_not(None), self._compare(cols.due_date, op, value))
            case DateTerm(_, op, value):
                return self._compare(cols.created_at, op, value)
            case NoDueDate():
                return cols.due_date.is_(None)
            case DoneTerm(done):
                return cols.completed.is_(True) if done else cols.completed.is_not(True)
            case RecurringTerm(recurring):
                return cols.recurring_task_id.is_not(None) if recurring else cols.recurring_task_id.is_(None)
            case Overdue():
                return and_(cols.due_date.is_not(None), cols.due_date < self._now, cols.completed.is_not(True))
            case TextTerm(text, quoted):
                return cols.text_match(text, quoted)
        raise TypeError(f"not a filter node: {node!r}")

    def _priority(self, op: Comparison, level: Priority) -> ColumnElement[bool]:
        column = self._columns.priority
        if op == ":":
            return column == level.name
        # An ordering over a text column is spelled out as the levels it admits.
        names = [p.name for p in Priority if _ORDERING[op](p, level)]
        return column.in_(names) if names else false()

    def _compare(self, column: SQLColumnExpression[Any], op: Comparison, ref: DateRef) -> ColumnElement[bool]:
        resolved = self._resolve(ref)
        if op == ":":
            span = self._day_of(resolved.at) if isinstance(resolved, _Instant) else resolved
            if isinstance(span, _Bound):
                span = span.last_day
            return and_(column >= span.start, column < span.end)
        if isinstance(resolved, _Instant):
            exact: ColumnElement[bool] = _ORDERING[op](column, resolved.at)
            return exact
        if isinstance(resolved, _Bound):
            return column < resolved.end if op in ("<", "<=") else column >= resolved.end
        # A day is half-open, so "<=D" stops where the next day starts and ">D" starts there.
        if op == "<":
            return column < resolved.start
        if op == "<=":
            return column < resolved.end
        if op == ">":
            return column >= resolved.end
        return column >= resolved.start

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
