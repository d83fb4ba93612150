"""GET /api/tasks parameters: parsed and validated into a ListSpec, each bad value named."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from db.listing import SORT_KEYS, CursorError, ListSpec, decode_cursor
from streams.rules.filterlang import FilterSyntaxError, parse

from . import fields as v
from ..errors import ValidationError

LIST_PARAMS = (
    "priority", "tags", "tags_mode", "completed", "due_before", "due_after", "overdue", "has_due_date", "recurring",
    "created_after", "created_before", "search", "filter", "tz", "sort_by", "sort_order", "limit", "offset", "cursor",
    "view",
)
#: What a saved view may store: everything that selects and orders, nothing that pages.
VIEW_PARAMS = tuple(p for p in LIST_PARAMS if p not in ("limit", "offset", "cursor", "view"))
SEARCH_MAX = 200


def timezone_param(query: Mapping[str, str]) -> ZoneInfo:
    name = query.get("tz") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("tz", f"is not an IANA time zone name (e.g. Europe/Berlin): {name!r}") from None


def instant_param(query: Mapping[str, str], name: str, tz: ZoneInfo) -> datetime | None:
    """An ISO-8601 date-time with an offset, or a date meaning local midnight at its start in `tz`."""
    raw = query.get(name)
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return v.timestamp(raw, name)
    try:
        return datetime.combine(day, time(), tzinfo=tz).astimezone(timezone.utc)
    except OverflowError:
        raise ValidationError(name, f"is outside the supported range of dates: {raw!r}") from None


def list_param(query: Mapping[str, str], name: str) -> list[str]:
    raw = query.get(name, "")
    return [part for part in (p.strip() for p in raw.split(",")) if part]


def choice_param(query: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    raw = query.get(name)
    if not raw:
        return None
    if raw.lower() not in choices:
        raise ValidationError(name, f"must be one of {', '.join(choices)}, got {raw!r}")
    return raw.lower()


def parse_list(query: Mapping[str, str]) -> ListSpec:
    v.reject_unknown_params(query, LIST_PARAMS)
    tz = timezone_param(query)
    priorities = tuple(dict.fromkeys(_priority(p) for p in list_param(query, "priority")))
    tags = tuple(dict.fromkeys(v.tag(t, field="tags") for t in list_param(query, "tags")))
    search = query.get("search") or None
    if search is not None and len(search) > SEARCH_MAX:
        raise ValidationError("search", f"must be at most {SEARCH_MAX} characters, got {len(search)}")
    filter_text = query.get("filter") or None
    node = None
    if filter_text is not None:
        try:
            node = parse(filter_text)
        except FilterSyntaxError as exc:
            raise ValidationError("filter", str(exc), position=exc.position) from None
    offset = v.int_param(query, "offset", 0, minimum=0)
    cursor = None
    if query.get("cursor"):
        if offset:
            raise ValidationError("cursor", "cannot be combined with offset; use one or the other")
        try:
            cursor = decode_cursor(query["cursor"])
        except CursorError as exc:
            raise ValidationError("cursor", str(exc)) from None
    return ListSpec(
        priorities=priorities,
        tags=tags,
        tags_mode=choice_param(query, "tags_mode", ("all", "any")) or "all",
        completed=v.bool_param(query, "completed"),
        due_before=instant_param(query, "due_before", tz),
        due_after=instant_param(query, "due_after", tz),
        overdue=v.bool_param(query, "overdue"),
        has_due_date=v.bool_param(query, "has_due_date"),
        recurring=v.bool_param(query, "recurring"),
        created_after=instant_param(query, "created_after", tz),
        created_before=instant_param(query, "created_before", tz),
        search=search,
        filter=node,
        tz=tz,
        sort_by=choice_param(query, "sort_by", SORT_KEYS),
        sort_order=choice_param(query, "sort_order", ("asc", "desc")),
        limit=v.int_param(query, "limit", 20, minimum=1, maximum=100),
        offset=offset,
        cursor=cursor,
    )


def _priority(value: str) -> str:
    try:
        return v.priority(value)
    except ValidationError:
        raise ValidationError("priority", f"each value must be LOW, MEDIUM or HIGH (any case), got {value!r}") from None
