"""Listing tasks: filters, full-text search, sort orders and keyset cursors, built as bound SQL."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Numeric,
    Select,
    and_,
    cast,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    tuple_,
)

from streams.rules.filterlang import Node

from .errors import Invalid
from .filters import FilterColumns, compile_filter
from .models import Task, UserTaskCounts

PRIORITY_RANK = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}
SORT_KEYS = ("due_date", "priority", "created_at", "updated_at", "completed_at", "title")
RELEVANCE = "relevance"
FTS_CONFIG = "english"
INFINITY = literal_column("'infinity'::timestamptz")
MINUS_INFINITY = literal_column("'-infinity'::timestamptz")


class CursorError(Invalid):
    """A cursor that this listing did not hand out (or one for another sort order)."""

    def __init__(self, message: str) -> None:
        super().__init__("cursor", message)


@dataclass(frozen=True)
class CursorKey:
    sort: str
    order: str
    value: Any
    id: uuid.UUID


@dataclass(frozen=True)
class ListSpec:
    """A validated GET /api/tasks request (see web.validation.listing for the parameters)."""

    priorities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tags_mode: str = "all"
    completed: bool | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    has_due_date: bool | None = None
    recurring: bool | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    search: str | None = None
    filter: Node | None = None
    tz: ZoneInfo = ZoneInfo("UTC")
    sort_by: str | None = None
    sort_order: str | None = None
    limit: int = 20
    offset: int = 0
    cursor: CursorKey | None = None

    @property
    def sort(self) -> str:
        if self.sort_by:
            return self.sort_by
        return RELEVANCE if self.search else "created_at"

    @property
    def order(self) -> str:
        if self.sort_order:
            return self.sort_order
        return "desc" if self.sort in ("created_at", "updated_at", "completed_at", RELEVANCE) else "asc"


# Search ----------------------------------------------------------------------------------------

_PHRASE = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+", re.UNICODE)


def split_search(text: str) -> tuple[list[str], list[str]]:
    """Quoted phrases and loose words; everything but word characters is dropped (tsquery syntax is ours)."""
    phrases = [" ".join(_WORD.findall(p)) for p in _PHRASE.findall(text)]
    loose = _WORD.findall(_PHRASE.sub(" ", text))
    return [p for p in phrases if p], loose


def _prefix_query(words: list[str]) -> ColumnElement[Any]:
    # Every word stemmed and matched as a prefix while typing: "meet" finds "meeting", "meetings".
    return func.to_tsquery(FTS_CONFIG, " & ".join(f"{w}:*" for w in words))


def text_match(text: str, quoted: bool) -> ColumnElement[bool]:
    """Full-text match of one search term; loose words also match titles by trigram similarity."""
    if quoted:
        phrase = " ".join(_WORD.findall(text))
        if not phrase:
            return true()
        return Task.search_vector.bool_op("@@")(func.phraseto_tsquery(FTS_CONFIG, phrase))
    words = _WORD.findall(text)
    if not words:
        return true()
    fts = Task.search_vector.bool_op("@@")(_prefix_query(words))
    # title %> words: word similarity above pg_trgm.word_similarity_threshold (set per connection).
    return or_(fts, Task.title.bool_op("%>")(" ".join(words)))


def search_condition(text: str) -> ColumnElement[bool]:
    phrases, words = split_search(text)
    terms = [text_match(p, True) for p in phrases]
    if words:
        terms.append(text_match(" ".join(words), False))
    return and_(*terms) if terms else true()


def relevance(text: str) -> ColumnElement[float]:
    phrases, words = split_search(text)
    parts: list[ColumnElement[Any]] = []
    for phrase in phrases:
        parts.append(func.ts_rank(Task.search_vector, func.phraseto_tsquery(FTS_CONFIG, phrase)))
    if words:
        parts.append(func.ts_rank(Task.search_vector, _prefix_query(words)))
        parts.append(func.word_similarity(" ".join(words), Task.title))
    if not parts:  # nothing searchable, e.g. only punctuation: every task ranks alike (ties broken by id)
        parts.append(literal(0))
    rank = parts[0]
    for part in parts[1:]:
        rank = rank + part
    # Rounded numeric, so the value a cursor carries compares exactly on the next page.
    return func.round(cast(rank, Numeric), 6)


# Filters ---------------------------------------------------------------------------------------

FILTER_COLUMNS = FilterColumns(
    priority=Task.priority,
    tags=Task.tags,
    due_date=Task.due_date,
    created_at=Task.created_at,
    completed=Task.completed,
    recurring_task_id=Task.recurring_task_id,
    text_match=text_match,
)


def conditions(user_id: str, spec: ListSpec, now: datetime) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Task.user_id == user_id]
    if spec.priorities:
        # The rank, not the text: (user_id, priority_rank, id) is indexed, so this filter and its
        # count read the index instead of every one of the user's rows.
        where.append(Task.priority_rank.in_([PRIORITY_RANK[p] for p in spec.priorities]))
    if spec.tags:
        where.append(Task.tags.contains(list(spec.tags)) if spec.tags_mode == "all" else Task.tags.overlap(list(spec.tags)))
    if spec.completed is not None:
        where.append(Task.completed.is_(spec.completed))
    if spec.due_before is not None:
        where.append(Task.due_date < spec.due_before)
    if spec.due_after is not None:
        where.append(Task.due_date > spec.due_after)
    if spec.overdue is not None:
        overdue = and_(Task.due_date < now, Task.completed.is_(False))
        where.append(overdue if spec.overdue else not_(func.coalesce(overdue, False)))
    if spec.has_due_date is not None:
        where.append(Task.due_date.is_not(None) if spec.has_due_date else Task.due_date.is_(None))
    if spec.recurring is not None:
        where.append(Task.recurring_task_id.is_not(None) if spec.recurring else Task.recurring_task_id.is_(None))
    if spec.created_after is not None:
        where.append(Task.created_at > spec.created_after)
    if spec.created_before is not None:
        where.append(Task.created_at < spec.created_before)
    if spec.search:
        where.append(search_condition(spec.search))
    if spec.filter is not None:
        where.append(compile_filter(spec.filter, now=now, tz=spec.tz, columns=FILTER_COLUMNS))
    return where


# Sorting and cursors ---------------------------------------------------------------------------


def sort_expression(spec: ListSpec) -> ColumnElement[Any]:
    """The sort key; missing due/completion dates map to an infinity that sorts last in either order."""
    sort, order = spec.sort, spec.order
    if sort == RELEVANCE:
        return relevance(spec.search or "")
    if sort in ("due_date", "completed_at"):
        column = Task.due_date if sort == "due_date" else Task.completed_at
        return func.coalesce(column, INFINITY if order == "asc" else MINUS_INFINITY)
    return {"priority": Task.priority_rank, "created_at": Task.created_at, "updated_at": Task.updated_at,
            "title": Task.title}[sort]


def _key_value(task: Any, spec: ListSpec, rank: Any) -> Any:
    sort = spec.sort
    if sort == RELEVANCE:
        return str(rank)
    if sort == "priority":
        return task.priority_rank
    value = getattr(task, sort)
    if value is None:
        return "inf" if spec.order == "asc" else "-inf"
    return value.isoformat() if isinstance(value, datetime) else value


def encode_cursor(spec: ListSpec, task: Any, rank: Any = None) -> str:
    data = {"s": spec.sort, "o": spec.order, "v": _key_value(task, spec, rank), "i": str(task.id)}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> CursorKey:
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return CursorKey(str(data["s"]), str(data["o"]), data["v"], uuid.UUID(data["i"]))
    except (ValueError, KeyError, TypeError):
        raise CursorError("is not a cursor this API returned; pass next_cursor unchanged") from None


def _bound(spec: ListSpec, cursor: CursorKey) -> Any:
    if cursor.sort != spec.sort or cursor.order != spec.order:
        raise CursorError("was made for another sort order; start again without it")
    value = cursor.value
    if spec.sort in ("due_date", "completed_at", "created_at", "updated_at"):
        if value in ("inf", "-inf"):
            return INFINITY if value == "inf" else MINUS_INFINITY
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise CursorError("is damaged; start again without it") from None
    if spec.sort == "priority":
        if not isinstance(value, int):
            raise CursorError("is damaged; start again without it")
        return value
    if not isinstance(value, str):
        raise CursorError("is damaged; start again without it")
    return value


#: Past this many matches a filtered total stops counting: `total` is then COUNT_CAP and not exact.
COUNT_CAP = 1000


def unfiltered(spec: ListSpec) -> bool:
    """Whether the spec selects all the user's tasks, or all open or all completed ones."""
    return not (
        spec.priorities or spec.tags or spec.due_before or spec.due_after or spec.overdue is not None
        or spec.has_due_date is not None or spec.recurring is not None or spec.created_after
        or spec.created_before or spec.search or spec.filter is not None
    )


def count_query(user_id: str, spec: ListSpec, where: list[ColumnElement[bool]]) -> Select:
    """The total: exact and O(1) from the trigger-kept counts when unfiltered, else counted up to COUNT_CAP + 1."""
    if unfiltered(spec):
        counts = UserTaskCounts
        column = {None: counts.total, True: counts.completed, False: counts.total - counts.completed}[spec.completed]
        found = select(column).where(counts.user_id == user_id).scalar_subquery()
        return select(func.coalesce(found, 0))
    capped = select(literal(1)).select_from(Task).where(*where).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(capped)


#: What a listing returns of each task (not the search document).
TASK_COLUMNS = tuple(c for c in Task.__table__.c if c.name != "search_vector")


def list_query(user_id: str, spec: ListSpec, now: datetime) -> tuple[Select, Select]:
    """The page (limit + 1 rows, to know whether more follow) with the total as a column, and the count alone.

    The total rides along as an uncorrelated scalar subquery, which PostgreSQL evaluates once: one
    round trip per page. Only an empty page needs the count query on its own.
    """
    where = conditions(user_id, spec, now)
    key = sort_expression(spec)
    descending = spec.order == "desc"
    page_where = list(where)
    if spec.cursor is not None:
        if spec.sort == RELEVANCE:
            if spec.cursor.sort != RELEVANCE or spec.cursor.order != spec.order:
                raise CursorError("was made for another sort order; start again without it")
            try:
                bound: Any = literal(Decimal(str(spec.cursor.value)), Numeric)
            except (TypeError, ValueError, ArithmeticError):
                raise CursorError("is damaged; start again without it") from None
        else:
            bound = _bound(spec, spec.cursor)
        row, after = tuple_(key, Task.id), tuple_(bound, spec.cursor.id)
        page_where.append(row < after if descending else row > after)
    count = count_query(user_id, spec, where)
    order = [key.desc(), Task.id.desc()] if descending else [key.asc(), Task.id.asc()]
    page = (
        select(*TASK_COLUMNS, key.label("sort_key"), count.scalar_subquery().label("total"))
        .where(*page_where)
        .order_by(*order)
        .limit(spec.limit + 1)
    )
    if spec.cursor is None and spec.offset:
        page = page.offset(spec.offset)
    return page, count
