"""Task fields, request bodies, query parameters and headers: pure functions that return clean values or raise
ValidationError."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timezone
from typing import Any, Iterable, Mapping

from streams.events import PRIORITIES

from ..errors import ValidationError

TITLE_MAX = 255
DESCRIPTION_MAX = 10_000
TAGS_MAX = 10
TAG_MAX = 50

CREATE_FIELDS = ("title", "description", "due_date", "priority", "tags")
UPDATE_FIELDS = ("title", "description", "due_date", "priority", "tags", "completed")


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    return body


def reject_unknown(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(
            unknown[0], f"unknown field; allowed fields are {', '.join(allowed)}", unknown=unknown
        )


def title(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError("title", "must be a string")
    value = value.strip()
    if not 1 <= len(value) <= TITLE_MAX:
        raise ValidationError("title", f"must be 1-{TITLE_MAX} characters after trimming, got {len(value)}")
    return value


def description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("description", "must be a string or null")
    if len(value) > DESCRIPTION_MAX:
        raise ValidationError("description", f"must be at most {DESCRIPTION_MAX} characters, got {len(value)}")
    return value


def priority(value: Any) -> str:
    if not isinstance(value, str) or value.strip().upper() not in PRIORITIES:
        raise ValidationError("priority", f"must be one of {', '.join(PRIORITIES)} (any case), got {value!r}")
    return value.strip().upper()


def tag(value: Any, field: str = "tags") -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "each tag must be a string")
    cleaned = value.strip().lower()
    if not 1 <= len(cleaned) <= TAG_MAX:
        raise ValidationError(field, f"each tag must be 1-{TAG_MAX} characters after trimming, got {value!r}")
    return cleaned


def tags(value: Any, *, existing: Iterable[str] = ()) -> list[str]:
    """Trimmed, lower-cased, de-duplicated (first occurrence wins), at most 10 in all."""
    if not isinstance(value, list):
        raise ValidationError("tags", "must be a list of strings")
    result = list(existing)
    for item in value:
        cleaned = tag(item)
        if cleaned not in result:
            result.append(cleaned)
    if len(result) > TAGS_MAX:
        raise ValidationError("tags", f"a task has at most {TAGS_MAX} tags, this would make {len(result)}")
    return result


def request_tags(value: Any) -> list[str]:
    """A request's tags: at most 10 as sent (the document's maxItems), then cleaned as tags() does."""
    if isinstance(value, list) and len(value) > TAGS_MAX:
        raise ValidationError("tags", f"send at most {TAGS_MAX} tags, got {len(value)}")
    return tags(value)


#: The instants the service takes. PostgreSQL keeps more, but asyncpg stores Python's datetime.min and
#: datetime.max as -infinity and infinity, and arithmetic near year 1 or 9999 (a reminder a year before a due
#: date) overflows: found by fuzzing as 500s.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9999, 1, 1, tzinfo=timezone.utc)
SUPPORTED_RANGE = "1900-01-01 to 9998-12-31 (UTC)"


def timestamp(value: Any, field: str) -> datetime:
    """An ISO-8601 date-time with an explicit offset, from 1900 to 9998, returned in UTC."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be an ISO-8601 date-time string with an offset, e.g. 2026-12-01T17:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(field, f"is not an ISO-8601 date-time: {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValidationError(field, f"needs a UTC offset (e.g. Z or +01:00): {value!r}")
    try:
        result = parsed.astimezone(timezone.utc)
    except OverflowError:
        result = None
    if result is None or not EARLIEST <= result < LATEST:
        raise ValidationError(field, f"is outside the supported range of dates, {SUPPORTED_RANGE}: {value!r}")
    return result


#: A calendar date alone, e.g. 2026-12-11 (no week dates, no basic format).
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def due_date(value: Any) -> datetime | date | None:
    """An instant (a timed task), a date alone like 2026-12-11 (an all-day task), or null."""
    if value is None:
        return None
    if isinstance(value, str) and DAY.match(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("due_date", f"is not a calendar date (YYYY-MM-DD): {value!r}") from None
        if not EARLIEST.date() <= day < LATEST.date():
            raise ValidationError("due_date", f"is outside the supported range of dates, {SUPPORTED_RANGE}: {value!r}")
        return day
    if isinstance(value, str):
        try:
            return timestamp(value, "due_date")
        except ValidationError as exc:
            reason = exc.message.removeprefix("due_date: ")
            raise ValidationError("due_date", f"{reason}; or send a date alone (e.g. 2026-12-11) for an all-day task") \
                from None
    return timestamp(value, "due_date")


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, f"must be true or false, got {value!r}")
    return value


FIELD_VALIDATORS = {
    "title": title,
    "description": description,
    "due_date": due_date,
    "priority": priority,
    "tags": request_tags,
    "completed": lambda v: boolean(v, "completed"),
}


def task_create(body: Any) -> dict[str, Any]:
    body = require_object(body)
    reject_unknown(body, CREATE_FIELDS)
    if "title" not in body:
        raise ValidationError("title", "is required")
    return {key: FIELD_VALIDATORS[key](value) for key, value in body.items()}


def task_update(body: Any) -> dict[str, Any]:
    body = require_object(body)
    reject_unknown(body, UPDATE_FIELDS)
    if not body:
        raise ValidationError("body", f"names no field to change; send any of {', '.join(UPDATE_FIELDS)}")
    return {key: FIELD_VALIDATORS[key](value) for key, value in body.items()}


def single_field(body: Any, field: str, *, required: bool = True) -> Any:
    """Bodies like {"priority": "high"}: exactly that one field, validated."""
    body = require_object(body)
    reject_unknown(body, (field,))
    if field not in body:
        raise ValidationError(field, "is required")
    return FIELD_VALIDATORS[field](body[field])


# Text the database can store -------------------------------------------------------------


def storable(text: str) -> bool:
    """Whether PostgreSQL can store the text: no NUL character and no lone UTF-16 surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: Any) -> None:
    """Reject a JSON body holding a string the database cannot store (400 naming the field), not a 500."""
    stack: list[tuple[str, Any]] = [("body", value)]
    while stack:
        field, item = stack.pop()
        if isinstance(item, str):
            if not storable(item):
                raise ValidationError(field, "must not contain NUL characters (\\u0000) or unpaired surrogates")
        elif isinstance(item, dict):
            for key, member in item.items():
                name = key if field == "body" else f"{field}.{key}"
                if not storable(key):
                    raise ValidationError(field, "has a member name with a NUL character or an unpaired surrogate")
                stack.append((name, member))
        elif isinstance(item, list):
            stack.extend((field, member) for member in item)


def check_query(query: Mapping[str, str]) -> None:
    """The same rule for query parameters, which reach the database too (search, filter). Bytes that are not
    UTF-8 arrive here as U+FFFD already; NUL is what is left to refuse."""
    for name, value in query.items():
        if not storable(name):
            raise ValidationError("query", "a parameter name must not contain NUL characters (%00)")
        if not storable(value):
            raise ValidationError(name, "must not contain NUL characters (%00)")


# Query parameters ---------------------------------------------------------------------------


#: The largest whole number a parameter may carry when it names no maximum of its own: PostgreSQL's
#: `integer`, so an offset or a sequence number never overflows a query argument (a 500 otherwise).
INT_MAX = 2**31 - 1


def int_param(
    query: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int = INT_MAX
) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:  # also past int()'s 4300-digit limit
        raise ValidationError(name, f"must be a whole number, got {raw[:40]!r}") from None
    if not minimum <= value <= maximum:
        raise ValidationError(name, f"must be between {minimum} and {maximum}, got {value}")
    return value


def bool_param(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValidationError(name, f"must be true or false, got {raw!r}")


def reject_unknown_params(query: Mapping[str, str], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise ValidationError(unknown[0], f"unknown query parameter; allowed are {', '.join(allowed)}")


def parse_uuid(value: str) -> uuid.UUID | None:
    """The id as a UUID, or None when it is not one (callers answer 404, like a missing id)."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def if_match(header: str | None) -> int | None:
    """The version in an If-Match header: `3`, `"3"` or `W/"3"`."""
    if header is None:
        return None
    raw = header.strip()
    if raw.startswith("W/"):
        raw = raw[2:]
    raw = raw.strip('"')
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError("If-Match", f"must be the task's version number (its ETag), got {header!r}") from None
    if value < 1:
        raise ValidationError("If-Match", f"versions start at 1, got {value}")
    return value
