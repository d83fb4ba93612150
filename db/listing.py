"""Listing tasks: filters, full-text search, sort orders and keyset cursors, built as parameterised SQL text."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from streams.rules.filterlang import Node

from .errors import Invalid
from .filters import FilterColumns, compile_filter
from .sql import Params

PRIORITY_RANK = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}
SORT_KEYS = ("due_date", "priority", "created_at", "updated_at", "completed_at", "title")
RELEVANCE = "relevance"
FTS_CONFIG = "english"


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


# The wire shape ---------------------------------------------------------------------------------


def wire_instant(column: str) -> str:
    """SQL writing a timestamptz as streams.events.iso does: UTC, ending in Z, microseconds only when nonzero."""
    return (f"CASE WHEN {column} IS NULL THEN NULL WHEN date_part('microseconds', {column})::int % 1000000 = 0 "
            f"THEN to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
            f"ELSE to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END")


#: A task as PostgreSQL writes it: the JSON db.serialize.task_snapshot gives (same keys, order and values),
#: so a page is passed through to the client without building a Python object per row.
TASK_JSON = (
    "json_build_object('id', tasks.id, 'user_id', tasks.user_id, 'title', tasks.title, "
    "'description', tasks.description, 'completed', tasks.completed, "
    f"'completed_at', {wire_instant('tasks.completed_at')}, "
    # An all-day task shows its calendar day; due_date is then only its sort/filter instant.
    f"'due_date', CASE WHEN tasks.due_day IS NOT NULL THEN to_char(tasks.due_day, 'YYYY-MM-DD') "
    f"ELSE {wire_instant('tasks.due_date')} END, 'all_day', tasks.due_day IS NOT NULL, "
    "'priority', tasks.priority, 'tags', tasks.tags, 'recurring_task_id', tasks.recurring_task_id, "
    f"'version', tasks.version, 'created_at', {wire_instant('tasks.created_at')}, "
    f"'updated_at', {wire_instant('tasks.updated_at')})"
)

#: One task of one user, as JSON text with its version (the ETag).
GET_SQL = f"SELECT {TASK_JSON}::text, tasks.version FROM tasks WHERE tasks.id = $1 AND tasks.user_id = $2"


# Search ----------------------------------------------------------------------------------------

_PHRASE = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+", re.UNICODE)


def split_search(text: str) -> tuple[list[str], list[str]]:
    """Quoted phrases and loose words; everything but word characters is dropped (tsquery syntax is ours)."""
    phrases = [" ".join(_WORD.findall(p)) for p in _PHRASE.findall(text)]
    loose = _WORD.findall(_PHRASE.sub(" ", text))
    return [p for p in phrases if p], loose


def prefix_query(words: list[str]) -> str:
    """Every word stemmed and matched as a prefix while typing: "meet" finds "meeting", "meetings"."""
    return " & ".join(f"{w}:*" for w in words)


def text_match(text: str, quoted: bool, p: Params) -> str:
    """Full-text match of one search term; loose words also match titles by trigram similarity."""
    if quoted:
        phrase = " ".join(_WORD.findall(text))
        if not phrase:
            return "true"
        return f"tasks.search_vector @@ phraseto_tsquery('{FTS_CONFIG}', {p(phrase)})"
    words = _WORD.findall(text)
    if not words:
        return "true"
    # title %> words: word similarity above pg_trgm.word_similarity_threshold (set per connection).
    return (f"(tasks.search_vector @@ to_tsquery('{FTS_CONFIG}', {p(prefix_query(words))}) "
            f"OR tasks.title %> {p(' '.join(words))})")


#: A relevance-ranked search ranks this many matches, the most recently created: ranking costs a
#: document read per row, and this bound keeps it from growing with the number of matches.
SEARCH_CANDIDATES = 200
#: Typo tolerance (trigram similarity of title words) joins in only when full text finds fewer than this.
FUZZY_BELOW = 5


def search_condition(text: str, p: Params, *, fuzzy: bool) -> str:
    """A search as one condition: every phrase, and every loose word as a prefix, through the full-text
    GIN index; with `fuzzy`, loose words may instead be similar title words (typo tolerance)."""
    phrases, words = split_search(text)
    terms = [f"tasks.search_vector @@ phraseto_tsquery('{FTS_CONFIG}', {p(phrase)})" for phrase in phrases]
    if words:
        fts = f"tasks.search_vector @@ to_tsquery('{FTS_CONFIG}', {p(prefix_query(words))})"
        # %>>: strict word similarity (whole title words) above pg_trgm.strict_word_similarity_threshold,
        # answered by the (user_id, title gin_trgm_ops) index.
        terms.append(f"({fts} OR tasks.title %>> {p(' '.join(words))})" if fuzzy else fts)
    return " AND ".join(terms) or "true"


def needs_fuzzy(spec: ListSpec) -> bool:
    """Whether a search could fall back to typo tolerance: it has loose (unquoted) words."""
    return bool(spec.search) and bool(split_search(spec.search)[1])


def few_matches_sql(user_id: str, spec: ListSpec, now: datetime) -> tuple[str, list[Any]]:
    """Whether full text finds fewer than FUZZY_BELOW tasks: then the search also takes similar title words."""
    p = Params(user_id)
    where = [*conditions(spec, now, p), search_condition(spec.search or "", p, fuzzy=False)]
    return (f"SELECT count(*) < {FUZZY_BELOW} FROM (SELECT 1 FROM tasks WHERE {' AND '.join(where)} "
            f"ORDER BY tasks.created_at DESC LIMIT {FUZZY_BELOW}) AS found"), p.args


def relevance(text: str, p: Params, *, fuzzy: bool = False) -> str:
    """The rank: full-text rank (title words weigh more than description words), plus, when the search
    took similar title words, how similar the title is (those tasks have no full-text rank; the
    similarity costs about ten times the rank per row, so full-text results do without it)."""
    phrases, words = split_search(text)
    parts = [f"ts_rank(tasks.search_vector, phraseto_tsquery('{FTS_CONFIG}', {p(phrase)}))" for phrase in phrases]
    if words:
        parts.append(f"ts_rank(tasks.search_vector, to_tsquery('{FTS_CONFIG}', {p(prefix_query(words))}))")
        if fuzzy:
            parts.append(f"word_similarity({p(' '.join(words))}, tasks.title)")
    if not parts:  # nothing searchable, e.g. only punctuation: every task ranks alike (ties broken by id)
        parts.append("0")
    # Rounded numeric, so the value a cursor carries compares exactly on the next page.
    return f"round(({' + '.join(parts)})::numeric, 6)"


# Filters ---------------------------------------------------------------------------------------

FILTER_COLUMNS = FilterColumns(
    priority="tasks.priority",
    tags="tasks.tags",
    due_date="tasks.due_date",
    created_at="tasks.created_at",
    completed="tasks.completed",
    recurring_task_id="tasks.recurring_task_id",
    text_match=text_match,
)


def conditions(spec: ListSpec, now: datetime, p: Params) -> list[str]:
    """The WHERE terms but the search, `tasks.user_id = $1` first (the caller puts the user id first in `p`)."""
    where = ["tasks.user_id = $1"]
    if spec.priorities:
        # The rank, not the text: (user_id, priority_rank, id) is indexed, so this filter and its
        # count read the index instead of every one of the user's rows.
        where.append(f"tasks.priority_rank = ANY({p([PRIORITY_RANK[x] for x in spec.priorities], 'smallint[]')})")
    if spec.tags:
        where.append(f"tasks.tags {'@>' if spec.tags_mode == 'all' else '&&'} {p(list(spec.tags), 'text[]')}")
    if spec.completed is not None:
        where.append(f"tasks.completed IS {'true' if spec.completed else 'false'}")
    if spec.due_before is not None:
        where.append(f"tasks.due_date < {p(spec.due_before, 'timestamptz')}")
    if spec.due_after is not None:
        where.append(f"tasks.due_date > {p(spec.due_after, 'timestamptz')}")
    if spec.overdue is not None:
        overdue = f"tasks.due_date < {p(now, 'timestamptz')} AND tasks.completed IS false"
        where.append(f"({overdue})" if spec.overdue else f"NOT coalesce({overdue}, false)")
    if spec.has_due_date is not None:
        where.append(f"tasks.due_date IS {'NOT NULL' if spec.has_due_date else 'NULL'}")
    if spec.recurring is not None:
        where.append(f"tasks.recurring_task_id IS {'NOT NULL' if spec.recurring else 'NULL'}")
    if spec.created_after is not None:
        where.append(f"tasks.created_at > {p(spec.created_after, 'timestamptz')}")
    if spec.created_before is not None:
        where.append(f"tasks.created_at < {p(spec.created_before, 'timestamptz')}")
    if spec.filter is not None:
        where.append(f"({compile_filter(spec.filter, now=now, tz=spec.tz, columns=FILTER_COLUMNS, params=p)})")
    return where


# Sorting and cursors ---------------------------------------------------------------------------

_COLUMNS = {"priority": "tasks.priority_rank", "created_at": "tasks.created_at", "updated_at": "tasks.updated_at",
            "title": "tasks.title"}


def sort_expression(spec: ListSpec, p: Params, *, fuzzy: bool = False) -> str:
    """The sort key; missing due/completion dates map to an infinity that sorts last in either order."""
    sort, order = spec.sort, spec.order
    if sort == RELEVANCE:
        return relevance(spec.search or "", p, fuzzy=fuzzy)
    if sort in ("due_date", "completed_at"):
        return f"coalesce(tasks.{sort}, '{'infinity' if order == 'asc' else '-infinity'}'::timestamptz)"
    return _COLUMNS[sort]


def cursor_value(spec: ListSpec, value: Any) -> Any:
    """The JSON value a cursor carries for a row whose sort column (or rank) is `value`."""
    sort = spec.sort
    if sort == RELEVANCE:
        return str(value)
    if value is None:
        return "inf" if spec.order == "asc" else "-inf"
    return value.isoformat() if isinstance(value, datetime) else value


def encode_cursor(spec: ListSpec, task: Any, rank: Any = None) -> str:
    """The cursor after `task` (anything with the sort column and `id`; `rank` for relevance)."""
    value = rank if spec.sort == RELEVANCE else getattr(task, "priority_rank" if spec.sort == "priority" else spec.sort)
    return cursor_token(spec, cursor_value(spec, value), task.id)


def cursor_token(spec: ListSpec, value: Any, ident: uuid.UUID | str) -> str:
    data = {"s": spec.sort, "o": spec.order, "v": value, "i": str(ident)}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> CursorKey:
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return CursorKey(str(data["s"]), str(data["o"]), data["v"], uuid.UUID(data["i"]))
    except (ValueError, KeyError, TypeError):
        raise CursorError("is not a cursor this API returned; pass next_cursor unchanged") from None


def _bound(spec: ListSpec, cursor: CursorKey, p: Params) -> str:
    if cursor.sort != spec.sort or cursor.order != spec.order:
        raise CursorError("was made for another sort order; start again without it")
    value = cursor.value
    if spec.sort == RELEVANCE:
        try:
            return p(Decimal(str(value)), "numeric")
        except (TypeError, ValueError, ArithmeticError, InvalidOperation):
            raise CursorError("is damaged; start again without it") from None
    if spec.sort in ("due_date", "completed_at", "created_at", "updated_at"):
        if value in ("inf", "-inf"):
            return f"'{'infinity' if value == 'inf' else '-infinity'}'::timestamptz"
        try:
            return p(datetime.fromisoformat(value), "timestamptz")
        except (TypeError, ValueError):
            raise CursorError("is damaged; start again without it") from None
    if spec.sort == "priority":
        if not isinstance(value, int) or isinstance(value, bool):
            raise CursorError("is damaged; start again without it")
        return p(value, "smallint")
    if not isinstance(value, str):
        raise CursorError("is damaged; start again without it")
    return p(value, "text")


#: Past this many matches a filtered total stops counting: `total` is then COUNT_CAP and not exact.
COUNT_CAP = 1000


def unfiltered(spec: ListSpec) -> bool:
    """Whether the spec selects all the user's tasks, or all open or all completed ones."""
    return not (
        spec.priorities or spec.tags or spec.due_before or spec.due_after or spec.overdue is not None
        or spec.has_due_date is not None or spec.recurring is not None or spec.created_after
        or spec.created_before or spec.search or spec.filter is not None
    )


def _count(spec: ListSpec, where: list[str]) -> str:
    """The total: exact and O(1) from the trigger-kept counts when unfiltered, else counted up to COUNT_CAP + 1."""
    if unfiltered(spec):
        column = {None: "total", True: "completed", False: "total - completed"}[spec.completed]
        return f"coalesce((SELECT {column} FROM user_task_counts WHERE user_id = $1), 0)"
    # Ordered, so the planner may walk the user's (user_id, created_at) index and stop at the cap, rather
    # than intersect the whole of a GIN index's posting lists for a common word or tag (23 ms at 1M rows).
    return (f"(SELECT count(*) FROM (SELECT 1 FROM tasks WHERE {' AND '.join(where)} "
            f"ORDER BY tasks.created_at DESC LIMIT {COUNT_CAP + 1}) AS capped)")


def _cursor_column(spec: ListSpec, key: str) -> str:
    if spec.sort == RELEVANCE:
        return key
    return _COLUMNS["priority"] if spec.sort == "priority" else f"tasks.{spec.sort}"


def list_sql(user_id: str, spec: ListSpec, now: datetime, *, fuzzy: bool = False) -> tuple[str, list[Any]]:
    """The page (limit + 1 rows, to know whether more follow), each row the task's JSON text, its id,
    its cursor value and the total; with its arguments.

    The total rides along as an uncorrelated scalar subquery, which PostgreSQL evaluates once: one
    round trip per page. Only an empty page needs count_sql on its own. `fuzzy`: the search also takes
    similar title words (few_matches_sql says when).

    Relevance ranks the SEARCH_CANDIDATES most recently created matches (ranking reads each one's
    document, and the cost must not grow with the number of matches); another sort order pages
    through all of them. The total counts every match, up to COUNT_CAP.
    """
    p = Params(user_id)
    where = conditions(spec, now, p)
    if spec.search:
        where.append(search_condition(spec.search, p, fuzzy=fuzzy))
    key = sort_expression(spec, p, fuzzy=fuzzy)
    direction = "DESC" if spec.order == "desc" else "ASC"
    page_where = list(where)
    prefix, count = "", _count(spec, where)
    if fuzzy:
        # Similar title words are checked row by row (trigram recheck): find them once, for the count and the page.
        prefix = f"WITH found AS MATERIALIZED (SELECT tasks.id, tasks.created_at FROM tasks WHERE {' AND '.join(where)}) "
        count = f"(SELECT count(*) FROM (SELECT 1 FROM found LIMIT {COUNT_CAP + 1}) AS capped)"
        if spec.sort == RELEVANCE:
            page_where.append(f"tasks.id IN (SELECT id FROM found ORDER BY created_at DESC LIMIT {SEARCH_CANDIDATES})")
    elif spec.search and spec.sort == RELEVANCE:
        page_where.append(f"tasks.id IN (SELECT tasks.id FROM tasks WHERE {' AND '.join(where)} "
                          f"ORDER BY tasks.created_at DESC LIMIT {SEARCH_CANDIDATES})")
    if spec.cursor is not None:
        if spec.sort == RELEVANCE and (spec.cursor.sort != RELEVANCE or spec.cursor.order != spec.order):
            raise CursorError("was made for another sort order; start again without it")
        bound = _bound(spec, spec.cursor, p)
        page_where.append(f"({key}, tasks.id) {'<' if spec.order == 'desc' else '>'} ({bound}, {p(spec.cursor.id)})")
    sql = (f"{prefix}SELECT {TASK_JSON}::text, tasks.id, {_cursor_column(spec, key)}, {count} "
           f"FROM tasks WHERE {' AND '.join(page_where)} "
           f"ORDER BY {key} {direction}, tasks.id {direction} LIMIT {p(spec.limit + 1)}")
    if spec.cursor is None and spec.offset:
        sql += f" OFFSET {p(spec.offset)}"
    return sql, p.args


def count_sql(user_id: str, spec: ListSpec, now: datetime, *, fuzzy: bool = False) -> tuple[str, list[Any]]:
    """The total alone, for a page that came back empty."""
    p = Params(user_id)
    where = conditions(spec, now, p)
    if spec.search:
        where.append(search_condition(spec.search, p, fuzzy=fuzzy))
    return f"SELECT {_count(spec, where)}", p.args
