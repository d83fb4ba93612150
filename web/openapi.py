"""The OpenAPI 3.1 description of the HTTP API, built from route data, and the view serving it at /openapi.json.

One registry: each part of the API (tasks, reminders, the dashboard, recurring tasks) declares its schemas,
parameters, headers, tags and routes below; the registry section joins them once, and `document()` builds
the document from the registry.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from aiohttp import web

from db.listing import SORT_KEYS
from db.models import EVENT_TYPES, PRIORITIES
from streams.app import app
from streams.rules import filterlang
from streams.rules import webhooks as hooks
from streams.rules.recurrence import MAX_COUNT, MAX_INTERVAL, MAX_SKIPPED

from . import validation as v
from .auth import ALGORITHM
from .listing import SEARCH_MAX, VIEW_PARAMS
from .ratelimit import EXEMPT_PATHS as RATE_LIMIT_EXEMPT
from .security import CONTENT_SECURITY_POLICY
from .views import recurring as recurring_views
from .views.base import ApiView
from .views.dashboard import CONTENT_TYPES
from .views.notifications import SNOOZE_MAX, SNOOZE_MIN
from .views.saved_views import NAME_MAX, SHORTHAND
from .views.webhooks import SECRET_MAX, SECRET_MIN

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
SECURITY_SCHEME = "bearerAuth"

Schema = dict[str, Any]

# Schema building blocks ---------------------------------------------------------------------


def ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema: Schema) -> Schema:
    """The schema or null, the 3.1 way: a type array, or anyOf for a $ref."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def described(schema: Schema, description: str) -> Schema:
    return {**schema, "description": description}


def closed_object(
    properties: dict[str, Schema], *, required: tuple[str, ...] | list[str] = (), **extra: Any
) -> Schema:
    """An object that rejects unknown members, as the API does."""
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return {**schema, **extra}


def any_case(*words: str) -> str:
    """A regex group matching any of the words in any letter case (no inline flags: ECMA-262 has none)."""

    def letters(word: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)

    return "(?:" + "|".join(letters(word) for word in words) + ")"


def comma_list(item: str) -> str:
    """A regex for a comma-separated list of `item`s: each part is trimmed and blank parts are skipped."""
    part = rf"\s*(?:{item}\s*)?"
    return rf"^{part}(?:,{part})*$"


UUID: Schema = {"type": "string", "format": "uuid"}
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}
USER_ID: Schema = {"type": "string", "minLength": 1, "maxLength": 255}
#: The server trims before checking lengths, so a value must hold a non-blank character.
NOT_BLANK = r"\S"

# What clients send: the server is more lenient than what it stores (case, whitespace).
INPUT_FIELDS: dict[str, Schema] = {
    "title": {
        "type": "string", "minLength": 1, "maxLength": v.TITLE_MAX, "pattern": NOT_BLANK,
        "description": f"Trimmed; 1-{v.TITLE_MAX} characters after trimming.",
    },
    "description": described(
        nullable({"type": "string", "maxLength": v.DESCRIPTION_MAX}), "Free text; null clears it."
    ),
    "due_date": described(
        nullable(TIMESTAMP), "An ISO-8601 date-time with a UTC offset (e.g. 2026-12-01T17:00:00+01:00), "
        "stored and returned in UTC; null clears it. A date-time without an offset is rejected, and so is one "
        f"outside {v.SUPPORTED_RANGE}.",
    ),
    "priority": {
        "type": "string",
        # Any case and surrounding whitespace are accepted; responses always carry the upper-case form.
        "pattern": rf"^\s*{any_case(*PRIORITIES)}\s*$",
        "description": f"One of {', '.join(PRIORITIES)} in any letter case; stored upper-case. Defaults to MEDIUM.",
        "examples": ["HIGH", "low"],
    },
    "tags": {
        "type": "array",
        "maxItems": v.TAGS_MAX,
        "items": {"type": "string", "minLength": 1, "maxLength": v.TAG_MAX, "pattern": NOT_BLANK},
        "description": f"Each tag is trimmed and lower-cased, duplicates are dropped (first wins); "
        f"a task has at most {v.TAGS_MAX} tags of 1-{v.TAG_MAX} characters.",
    },
    "completed": {"type": "boolean", "description": "true completes the task, false reopens it."},
}


def input_object(fields: tuple[str, ...], **extra: Any) -> Schema:
    return closed_object({name: INPUT_FIELDS[name] for name in fields}, **extra)


# What GET /api/tasks reads from the query string (and a saved view stores): strings, an empty one
# counting as left out, so every pattern below also matches "".
BOOLEAN_WORDS = ("true", "1", "yes", "false", "0", "no")
PRIORITY_WORD = any_case(*PRIORITIES)
#: A tag in a comma list: 1-TAG_MAX characters that neither start nor end with whitespace (it is trimmed).
TAG_WORD = rf"[^,\s](?:[^,]{{0,{v.TAG_MAX - 2}}}[^,\s])?"


def choice(*words: str) -> Schema:
    """One of the words in any letter case, or empty."""
    return {"type": "string", "pattern": f"^{any_case(*words)}?$"}


BOOLEAN_QUERY = choice(*BOOLEAN_WORDS)
#: A date-time with an offset, a date (local midnight in `tz`), or empty.
INSTANT_QUERY: Schema = {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}, {"maxLength": 0}]}
PRIORITY_LIST = {"type": "string", "pattern": comma_list(PRIORITY_WORD), "examples": ["high", "HIGH,medium"]}
TAG_LIST = {"type": "string", "pattern": comma_list(TAG_WORD), "examples": ["work", "home,errands"]}

#: Besides its string form, the JSON value a saved view's `params` may give a parameter: the server
#: writes a boolean as true/false and joins a list with commas.
VIEW_JSON_VALUES: dict[str, Schema] = {
    **{name: {"type": "boolean"} for name in ("completed", "overdue", "has_due_date", "recurring")},
    "priority": {"type": "array", "items": {"type": "string", "pattern": rf"^\s*(?:{PRIORITY_WORD}\s*)?$"}},
    "tags": {"type": "array", "items": {"type": "string", "pattern": rf"^\s*(?:{TAG_WORD}\s*)?$"}},
}


def view_value(name: str) -> Schema:
    """What a saved view accepts for the GET /api/tasks parameter `name`."""
    text = list_parameters()[name]["schema"]
    return {"anyOf": [text, VIEW_JSON_VALUES[name]]} if name in VIEW_JSON_VALUES else text


def saved_view_create() -> Schema:
    params = closed_object(
        {name: view_value(name) for name in VIEW_PARAMS},
        description="GET /api/tasks parameters (all but limit, offset, cursor and view), as strings or as "
        "booleans and lists of strings where those make sense: `{\"priority\": [\"high\"], \"overdue\": true}`.",
    )
    at_least_one: list[Schema] = [{"required": [name]} for name in SHORTHAND]
    at_least_one.append({"required": ["params"], "properties": {"params": {"minProperties": 1}}})
    return closed_object(
        {
            "name": {
                "type": "string", "minLength": 1, "maxLength": NAME_MAX, "pattern": NOT_BLANK,
                "description": f"Trimmed; 1-{NAME_MAX} characters after trimming; unique among your views "
                "(409 if not).",
            },
            **{
                name: described(view_value(name), f"Shorthand for `params.{name}`; wins over it.")
                for name in SHORTHAND
            },
            "params": params,
        },
        required=("name",),
        anyOf=at_least_one,
        description="A view to save: a name and at least one parameter (filter, sort_by, sort_order or one in "
        "`params`). It is validated as GET /api/tasks validates its parameters, so a saved view always works.",
    )


def task_schema() -> Schema:
    """The task as db.serialize.task_snapshot renders it (responses, audit snapshots, events)."""
    properties = {
        "id": UUID,
        "user_id": described(USER_ID, "The owner: the `sub` of the token that created the task."),
        "title": {"type": "string", "minLength": 1, "maxLength": v.TITLE_MAX},
        "description": nullable({"type": "string", "maxLength": v.DESCRIPTION_MAX}),
        "completed": {"type": "boolean"},
        "completed_at": described(nullable(TIMESTAMP), "When the task was last completed; null while open."),
        "due_date": nullable(TIMESTAMP),
        "priority": {"type": "string", "enum": list(PRIORITIES)},
        "tags": {
            "type": "array",
            "maxItems": v.TAGS_MAX,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": v.TAG_MAX},
            "description": "Lower-case, in the order they were added.",
        },
        "recurring_task_id": described(nullable(UUID), "The recurring task this one was generated from, if any."),
        "version": {
            "type": "integer", "minimum": 1,
            "description": "Starts at 1 and grows by one with every change; the ETag is this number, quoted.",
        },
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    }
    return closed_object(properties, required=tuple(properties), description="A task, all times in UTC.")


def task_schemas() -> dict[str, Schema]:
    """Tasks, saved views, the audit trail, errors and the probes."""
    return {
        "Task": task_schema(),
        "TaskCreate": input_object(
            v.CREATE_FIELDS, required=("title",), description="A new task; only the title is required."
        ),
        "TaskUpdate": input_object(
            v.UPDATE_FIELDS, minProperties=1,
            description="The fields to change; at least one. Fields left out keep their value.",
        ),
        "PriorityChange": input_object(("priority",), required=("priority",)),
        "DueDateChange": input_object(("due_date",), required=("due_date",)),
        "TagsAddition": input_object(
            ("tags",), required=("tags",),
            description=f"Tags to add to those the task has; the result may hold at most {v.TAGS_MAX}.",
        ),
        "TaskList": closed_object(
            {
                "tasks": {
                    "type": "array", "items": ref("Task"),
                    "description": "In the requested order: newest first by default, most relevant first "
                    "with `search`.",
                },
                "total": {
                    "type": "integer", "minimum": 0,
                    "description": "How many tasks match, over all pages. Exact for the whole list and for "
                    "`completed` alone; with other filters counting stops at 1000 (then `total_exact` is false "
                    "and `total` means at least 1000).",
                },
                "total_exact": {"type": "boolean", "description": "Whether `total` is the exact count."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "offset": {"type": "integer", "minimum": 0},
                "next_cursor": described(
                    nullable({"type": "string"}),
                    "Pass as `cursor` (with the same other parameters) for the next page; null on the last page. "
                    "Keyset pagination: no task is repeated or skipped while tasks are added meanwhile.",
                ),
            },
            required=("tasks", "total", "total_exact", "limit", "offset", "next_cursor"),
        ),
        "SavedView": closed_object(
            {
                "id": UUID,
                "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
                "query": {
                    "type": "object",
                    "propertyNames": {"enum": list(VIEW_PARAMS)},
                    "additionalProperties": {"type": "string"},
                    "minProperties": 1,
                    "description": "The stored GET /api/tasks parameters, every value as its query-string form "
                    "(booleans as true/false, lists comma-separated); shorthand fields are folded in.",
                },
                "created_at": TIMESTAMP,
            },
            required=("id", "name", "query", "created_at"),
            description="A saved view; apply it with GET /api/tasks?view={id}.",
        ),
        "SavedViewCreate": saved_view_create(),
        "SavedViewList": closed_object(
            {"views": {"type": "array", "items": ref("SavedView"), "description": "By name."}},
            required=("views",),
        ),
        "Change": closed_object(
            {"from": {"description": "The old value."}, "to": {"description": "The new value."}},
            required=("from", "to"),
        ),
        "AuditEvent": closed_object(
            {
                "id": described(UUID, "The event id; the same as event_id on the task-events topic."),
                "seq": {
                    "type": "integer", "minimum": 1, "description": "The user's gap-free, commit-ordered sequence."
                },
                "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
                "occurred_at": TIMESTAMP,
                "user_id": USER_ID,
                "task_id": UUID,
                "before": described(nullable(ref("Task")), "The task before the change; null for created."),
                "after": described(nullable(ref("Task")), "The task after the change; null for deleted."),
                "changes": {
                    "type": "object",
                    "additionalProperties": ref("Change"),
                    "description": "Every field that changed (version and updated_at left out).",
                },
            },
            required=("id", "seq", "event_type", "occurred_at", "user_id", "task_id", "before", "after", "changes"),
        ),
        "AuditPage": closed_object(
            {
                "task_id": UUID,
                "events": {"type": "array", "items": ref("AuditEvent"), "description": "Oldest first."},
                "next_cursor": described(
                    nullable({"type": "string"}), "Pass as `cursor` for the next page; null on the last page."
                ),
            },
            required=("task_id", "events", "next_cursor"),
        ),
        "Error": closed_object(
            {
                "error": {
                    "type": "string",
                    "description": "A stable machine code: validation_error, unauthorized, not_found, conflict, "
                    "precondition_failed, payload_too_large, method_not_allowed, rate_limited, "
                    "database_unavailable, internal_error.",
                    "examples": ["validation_error"],
                },
                "message": {"type": "string", "description": "What went wrong and how to fix it, for people."},
                "details": {
                    "type": "object",
                    "description": "Context: `field` for validation errors and conflicts (plus `position`, the "
                    "0-based index of the offending character, for a `filter` syntax error), `id` for not_found, "
                    "`current_version` and `expected_version` for precondition_failed, `limit` and `retry_after` "
                    "for rate_limited, `reason` for database_unavailable.",
                },
            },
            required=("error", "message", "details"),
            description="Every failure has this shape.",
        ),
        "Health": closed_object({"status": {"const": "ok"}}, required=("status",)),
        "Readiness": closed_object(
            {
                "status": {"type": "string", "enum": ["ready", "not_ready"]},
                "checks": {
                    "type": "object",
                    "properties": {"kafka": {"type": "string"}, "database": {"type": "string"}},
                    "additionalProperties": {"type": "string"},
                    "description": "Each dependency: `ok`, or why it is not.",
                },
            },
            required=("status", "checks"),
        ),
        "OpenApiDocument": {"type": "object", "description": "This document."},
    }


# Parameters, headers and shared responses ---------------------------------------------------


def query_int(name: str, *, default: int, minimum: int, maximum: int | None = None, description: str) -> Schema:
    schema: Schema = {"type": "integer", "default": default, "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def query(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


def query_bool(name: str, description: str) -> Schema:
    return query(
        name, BOOLEAN_QUERY,
        description + " Either `true`, `1`, `yes` or `false`, `0`, `no`, in any case; left out or empty, no filter.",
    )


def query_instant(name: str, description: str) -> Schema:
    return query(
        name, INSTANT_QUERY,
        description + " An ISO-8601 date-time with a UTC offset (`2026-12-01T17:00:00+01:00`), or a date "
        "(`2026-12-01`) meaning the local midnight that starts it in `tz`. The bound is exclusive.",
    )


def not_found_rule(what: str) -> str:
    return (
        f"{what} that does not exist, that belongs to another user, or whose id is not a UUID answers 404 "
        "`not_found`, never 403: the API does not reveal which ids exist."
    )


NOT_FOUND_RULE = not_found_rule("A task or saved view")

FILTER_LANGUAGE = f"""\
A filter in the task filter language, at most {filterlang.MAX_LENGTH} characters. Terms:

- `#work` or `tag:work`: has the tag;
- `priority:high`, `priority>=medium` (low < medium < high);
- `due<7d`, `due:today`, `created>2026-01-01`: `:` (within that day), `<`, `<=`, `>` or `>=` a date:
  `YYYY-MM-DD`, an ISO date-time with offset, `today`, `tomorrow`, `yesterday`, `Nd` / `Nw` (N days /
  weeks from now; N may be negative), `eow` / `eom` (end of this week / month), days reckoned in `tz`.
  A task without a due date fails every `due` comparison, so `!due<7d` includes it;
- `due:none`: no due date; `overdue`: open and past due;
- `done`, `done:false`, `recurring`, `recurring:false`;
- `"a phrase"`, `text:word` or any other word: a full-text match, as `search` does it.

Combine terms with `&` (or just a space), `|`, `!` and parentheses: `!` binds tightest, then `&`, then
`|`. Keywords are case-insensitive; at most {filterlang.MAX_DEPTH} nested `(` or `!`. A syntax error is a 400
whose `details` carry `field: "filter"` and `position`, the 0-based index of the offending character."""

FILTER_EXAMPLES = {
    "urgent-work": {
        "summary": "High-priority work due within 7 days, not done",
        "value": "priority:high & #work & due<7d & !done",
    },
    "overdue-chores": {"summary": "Overdue home or errands tasks", "value": "(#home | #errands) & overdue"},
    "report": {
        "summary": "The phrase, in tasks created after New Year's Day",
        "value": '"quarterly report" & created>2026-01-01',
    },
}

TASK_PARAMETERS: dict[str, Schema] = {
    "SocketToken": {
        "name": "token", "in": "query", "required": False, "schema": {"type": "string"},
        "description": "The bearer token, for clients that cannot send headers.",
    },
    "Since": query_int("since", default=0, minimum=0, maximum=v.INT_MAX,
                       description="Replay every change after this sequence number before going live."),
    "TaskId": {
        "name": "task_id", "in": "path", "required": True,
        # Deliberately not format: uuid: a malformed id is a missing task (404), not a bad request.
        "schema": {"type": "string"},
        "description": "The task's id (a UUID). " + not_found_rule("A task"),
    },
    "ViewId": {
        "name": "view_id", "in": "path", "required": True,
        "schema": {"type": "string"},  # not format: uuid, as for TaskId
        "description": "The saved view's id (a UUID). " + not_found_rule("A view"),
    },
    "Tag": {
        "name": "tag", "in": "path", "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": v.TAG_MAX, "pattern": NOT_BLANK},
        "description": "The tag to remove; matched after trimming and lower-casing.",
    },
    "IfMatch": {
        "name": "If-Match", "in": "header", "required": False,
        "schema": {"type": "string", "pattern": r'^(?:W/)?"?0*[1-9][0-9]*"?$'},
        "description": 'The ETag (version) the change is based on, e.g. `"3"`; `W/"3"` and a bare `3` work too. '
        "When the task is at another version nothing changes and the answer is 412. Without it, the last write wins.",
    },
    "RequestId": {
        "name": "X-Request-ID", "in": "header", "required": False,
        "schema": {"type": "string"},
        "description": "Echoed back in the response and written to the logs. A value that is not 1-128 of "
        "`A-Z a-z 0-9 . _ : -` is replaced by a generated id rather than rejected.",
    },
    # GET /api/tasks: every filter given must hold (AND).
    "Priority": query(
        "priority", PRIORITY_LIST,
        f"Only tasks with one of these priorities: a comma-separated list of {', '.join(PRIORITIES)} in any case.",
    ),
    "Tags": query(
        "tags", TAG_LIST,
        f"Only tasks with these tags: a comma-separated list, each trimmed and lower-cased (1-{v.TAG_MAX} "
        "characters). `tags_mode` says whether a task needs all of them or any.",
    ),
    "TagsMode": query(
        "tags_mode", {**choice("all", "any"), "default": "all"},
        "`all` (the default): a task must have every tag in `tags`; `any`: at least one. Any case.",
    ),
    "Completed": {
        "name": "completed", "in": "query", "required": False,
        "schema": BOOLEAN_QUERY,
        "description": "Only completed (`true`, `1`, `yes`) or only open (`false`, `0`, `no`) tasks, in any case; "
        "left out or empty, all tasks.",
        "examples": {"completed": {"value": "true"}, "open": {"value": "false"}},
    },
    "DueBefore": query_instant("due_before", "Only tasks due before this; tasks without a due date never match."),
    "DueAfter": query_instant("due_after", "Only tasks due after this; tasks without a due date never match."),
    "CreatedAfter": query_instant("created_after", "Only tasks created after this."),
    "CreatedBefore": query_instant("created_before", "Only tasks created before this."),
    "Overdue": query_bool(
        "overdue", "`true`: only open tasks whose due date has passed; `false`: every other task, "
        "those without a due date included.",
    ),
    "HasDueDate": query_bool("has_due_date", "`true`: only tasks with a due date; `false`: only those without."),
    "Recurring": query_bool(
        "recurring", "`true`: only tasks generated from a recurring task; `false`: only the others."
    ),
    "Search": query(
        "search", {"type": "string", "maxLength": SEARCH_MAX},
        f"Full-text search over title and description, at most {SEARCH_MAX} characters. Every word must match, "
        "stemmed (English) and as a prefix (`meet` finds `meeting`); `\"quoted phrases\"` match as phrases; "
        "punctuation is ignored; a misspelt word still finds tasks whose title is similar (trigram matching). "
        "Without `sort_by` the most relevant tasks come first.",
        examples={"words": {"value": "quarterly rep"}, "phrase": {"value": '"quarterly report" finance'}},
    ),
    "Filter": query(
        "filter", {"type": "string", "maxLength": filterlang.MAX_LENGTH}, FILTER_LANGUAGE, examples=FILTER_EXAMPLES
    ),
    "TimeZone": query(
        "tz",
        # IANA names are ASCII letters, digits, '_', '-' and '+' in '/'-separated parts.
        {"type": "string", "default": "UTC", "pattern": r"^(?:[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*)?$"},
        "An IANA time zone name such as `Europe/Berlin` (default UTC): where a date-only value starts at midnight "
        "and where the filter language's `today`, `Nd`, `eow` and the like are reckoned.",
    ),
    "SortBy": query(
        "sort_by", choice(*SORT_KEYS),
        f"One of {', '.join(SORT_KEYS)} (any case). Priority ranks LOW < MEDIUM < HIGH. Tasks without a due date "
        "(or, for completed_at, not completed) come last in both orders; ties are broken by id. Left out: "
        "created_at, or relevance when `search` is given.",
    ),
    "SortOrder": query(
        "sort_order", choice("asc", "desc"),
        "`asc` or `desc` (any case). Defaults to desc for created_at, updated_at, completed_at and relevance, "
        "asc otherwise.",
    ),
    "Limit": query_int("limit", default=20, minimum=1, maximum=100, description="Page size."),
    "Offset": query_int(
        "offset", default=0, minimum=0, maximum=v.INT_MAX,
        description="How many tasks to skip; not together with `cursor`.",
    ),
    "TaskCursor": query(
        "cursor", {"type": "string"},
        "The `next_cursor` of the previous page, unchanged; left out for the first page. Keep the other "
        "parameters as they were: a cursor made for another sort order is a 400, and so is one combined "
        "with a non-zero `offset`.",
    ),
    "View": query(
        "view", {"type": "string"},
        "The id of one of your saved views (see /api/views): its stored parameters apply, and those in the "
        "request override them (an empty value drops a stored one). An id that is not a UUID or names no view "
        "of yours is a 400 with `details.field` = `view`.",
    ),
    # GET /api/audit/tasks/{task_id}
    "AuditLimit": query_int("limit", default=50, minimum=1, maximum=200, description="Page size."),
    "Cursor": {
        "name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
        "description": "The `next_cursor` of the previous page, unchanged; left out for the first page.",
    },
}

#: The parameters of GET /api/tasks, in the order the document lists them.
LIST_QUERY = (
    "Priority", "Tags", "TagsMode", "Completed", "DueBefore", "DueAfter", "CreatedAfter", "CreatedBefore", "Overdue",
    "HasDueDate", "Recurring", "Search", "Filter", "TimeZone", "SortBy", "SortOrder", "Limit", "Offset",
    "TaskCursor", "View",
)


def list_parameters() -> dict[str, Schema]:
    """GET /api/tasks parameters by their query-string name."""
    return {TASK_PARAMETERS[key]["name"]: TASK_PARAMETERS[key] for key in LIST_QUERY}


TASK_PATH_PARAMETERS = {"task_id": "TaskId", "view_id": "ViewId", "tag": "Tag"}
TASK_OWNED_IDS = ("task_id", "view_id")

TASK_HEADERS: dict[str, Schema] = {
    "RequestId": {
        "description": "The request's id: the X-Request-ID sent, or a generated one. "
        "Quote it when reporting a problem.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": 'The task\'s version, quoted (`"3"`); send it back as If-Match.',
        "schema": {"type": "string", "pattern": '^"[1-9][0-9]*"$'},
    },
    "Location": {
        "description": "The URL of what was created: /api/tasks/{task_id} or /api/views/{view_id}.",
        "schema": {"type": "string"},
    },
    "RetryAfter": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}},
    "RateLimitLimit": {
        "description": "The size (burst) of the bucket closest to empty.", "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimitRemaining": {
        "description": "Requests left in that bucket.", "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimitReset": {
        "description": "Seconds until that bucket is full again.", "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimitPolicy": {
        "description": 'Every bucket that applied, e.g. `100;w=10;name="writes", 400;w=7;name="address"`.',
        "schema": {"type": "string"},
    },
    "WWWAuthenticate": {"description": 'Always `Bearer realm="taskstream"`.', "schema": {"type": "string"}},
}


def response(description: str, schema: Schema | None = None, **headers: str) -> Schema:
    """A response; every response carries X-Request-ID, `headers` maps names to HEADERS entries."""
    result: Schema = {
        "description": description,
        "headers": {"X-Request-ID": ref("RequestId", "headers")}
        | {name: ref(header, "headers") for name, header in headers.items()},
    }
    if schema is not None:
        result["content"] = {JSON: {"schema": schema}}
    return result


def task_response(description: str, **headers: str) -> Schema:
    return response(description, ref("Task"), ETag="ETag", **headers)


#: Status -> (component name, description, extra headers) of the error responses routes share.
ERRORS: dict[int, tuple[str, str, dict[str, str]]] = {
    400: ("BadRequest", "`validation_error`: a body, parameter or header is invalid; `details.field` names it.", {}),
    401: (
        "Unauthorized",
        "`unauthorized`: no bearer token, or one that is expired, not yet valid, badly signed or without `sub`.",
        {"WWW-Authenticate": "WWWAuthenticate"},
    ),
    404: ("NotFound", "`not_found`. " + NOT_FOUND_RULE, {}),
    409: ("Conflict", "`conflict`: it clashes with something you already have; `details.field` names the field.", {}),
    412: (
        "PreconditionFailed",
        "`precondition_failed`: If-Match names another version; `details.current_version` is the task's version now.",
        {},
    ),
    413: ("PayloadTooLarge", "`payload_too_large`: the body is over 1 MiB.", {}),
    429: (
        "RateLimited",
        "`rate_limited`: too many requests (`details.limit` names the bucket); nothing was done. Retry after "
        "Retry-After seconds; the RateLimit-* headers describe the buckets.",
        {"Retry-After": "RetryAfter", "RateLimit-Limit": "RateLimitLimit", "RateLimit-Remaining": "RateLimitRemaining",
         "RateLimit-Reset": "RateLimitReset", "RateLimit-Policy": "RateLimitPolicy"},
    ),
    503: (
        "ServiceUnavailable",
        "`database_unavailable`: PostgreSQL is not reachable or too slow (`details.reason` says which); retry "
        "after Retry-After seconds. The broker being down is not an error: writes are accepted and published once "
        "it is back.",
        {"Retry-After": "RetryAfter"},
    ),
}


def error_responses() -> dict[str, Schema]:
    return {name: response(text, ref("Error"), **headers) for name, text, headers in ERRORS.values()}


# Routes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One operation. Error responses follow from what the route does, as the code behind it does:

    every route but the probes is rate limited (429); every /api route authenticates (401) and reads
    PostgreSQL (503); a body can be invalid (400)
    or too large (413); query parameters can be invalid or unknown (400); If-Match can be
    malformed (400) or stale (412); a {task_id} or {view_id} in the path can name nothing of the caller's (404).
    """

    method: str
    path: str
    operation_id: str
    summary: str
    responses: dict[int, Schema]
    tag: str = "tasks"
    description: str = ""
    query: tuple[str, ...] = ()
    body: str | None = None
    conditional: bool = False
    errors: tuple[int, ...] = ()

    @property
    def authenticated(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def rate_limited(self) -> bool:
        """Every route but the probes counts against the client address's bucket (and /api routes the user's)."""
        return self.path not in RATE_LIMIT_EXEMPT

    def error_codes(self) -> list[int]:
        codes = set(self.errors)
        if self.rate_limited:
            codes.add(429)
        if self.authenticated:
            codes |= {401, 503}
        if self.body:
            codes |= {400, 413}
        if self.query:
            codes.add(400)
        if self.conditional:
            codes |= {400, 412}
        if any(f"{{{name}}}" in self.path for name in OWNED_IDS):
            codes.add(404)
        return sorted(codes)


CONDITIONAL_NOTE = " Send If-Match with the task's ETag to make the change only if nobody changed it meanwhile."
NO_OP_NOTE = " A change to the values the task already has writes nothing: same version, no event."

TASK_ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/api/tasks", "listTasks", "List and find your tasks",
        {200: response("One page of tasks.", ref("TaskList"))},
        description="Your tasks only, newest first unless `sort_by` or `search` say otherwise. Every filter "
        "given must hold; an empty parameter counts as left out. Page with `limit` and `offset`, or follow "
        "`next_cursor` with `cursor`, which never repeats or skips a task while others are added. `view` "
        "applies a saved view. Unknown parameters and invalid values are rejected (400, `details.field` "
        "names the parameter).",
        query=LIST_QUERY,
    ),
    Route(
        "post", "/api/tasks", "createTask", "Create a task",
        {201: task_response("The task as stored.", Location="Location")},
        description="Publishes a `created` event on task-events.",
        body="TaskCreate",
    ),
    Route(
        "get", "/api/tasks/{task_id}", "getTask", "Read a task",
        {200: task_response("The task.")},
    ),
    Route(
        "patch", "/api/tasks/{task_id}", "updateTask", "Change a task",
        {200: task_response("The task after the change.")},
        description="Changes the fields sent; setting `completed` publishes completed/uncompleted, other changes "
        "`updated`." + NO_OP_NOTE + CONDITIONAL_NOTE,
        body="TaskUpdate", conditional=True,
    ),
    Route(
        "delete", "/api/tasks/{task_id}", "deleteTask", "Delete a task",
        {204: response("Deleted; no body.")},
        description="Deletes the task for good: there is no soft delete and no undo, and deleting it again "
        "answers 404. Its audit trail stays readable at /api/audit/tasks/{task_id}, ending with a `deleted` "
        "event that holds the last snapshot, and a `deleted` event is published on task-events." + CONDITIONAL_NOTE,
        conditional=True,
    ),
    Route(
        "post", "/api/tasks/{task_id}/complete", "completeTask", "Mark a task done",
        {200: task_response("The task, completed.")},
        description="Sets completed and completed_at; no body is read." + NO_OP_NOTE + CONDITIONAL_NOTE,
        conditional=True,
    ),
    Route(
        "post", "/api/tasks/{task_id}/uncomplete", "uncompleteTask", "Reopen a task",
        {200: task_response("The task, open again.")},
        description="Clears completed and completed_at; no body is read." + NO_OP_NOTE + CONDITIONAL_NOTE,
        conditional=True,
    ),
    Route(
        "patch", "/api/tasks/{task_id}/priority", "setTaskPriority", "Set a task's priority",
        {200: task_response("The task with its new priority.")},
        description=NO_OP_NOTE.strip() + CONDITIONAL_NOTE,
        body="PriorityChange", conditional=True,
    ),
    Route(
        "patch", "/api/tasks/{task_id}/due-date", "setTaskDueDate", "Set or clear a task's due date",
        {200: task_response("The task with its new due date.")},
        description=NO_OP_NOTE.strip() + CONDITIONAL_NOTE,
        body="DueDateChange", conditional=True,
    ),
    Route(
        "post", "/api/tasks/{task_id}/tags", "addTaskTags", "Add tags to a task",
        {200: task_response("The task with the tags added.")},
        description=f"Adds the tags it does not have yet; 400 if that would make more than {v.TAGS_MAX}."
        + NO_OP_NOTE + CONDITIONAL_NOTE,
        body="TagsAddition", conditional=True,
    ),
    Route(
        "delete", "/api/tasks/{task_id}/tags/{tag}", "removeTaskTag", "Remove a tag from a task",
        {200: task_response("The task without the tag.")},
        description="404 also when the task does not have the tag; 400 when the tag is not a valid tag name."
        + CONDITIONAL_NOTE,
        conditional=True, errors=(400,),
    ),
    Route(
        "get", "/api/audit/tasks/{task_id}", "getTaskAudit", "Read a task's audit trail",
        {200: response("One page of events, oldest first.", ref("AuditPage"))},
        tag="audit",
        description="Every change to the task, oldest first, still readable after the task is deleted. "
        "404 when you have no events for that id. Unknown query parameters are rejected (400).",
        query=("AuditLimit", "Cursor"),
    ),
    Route(
        "get", "/api/views", "listViews", "List your saved views",
        {200: response("Your saved views, by name.", ref("SavedViewList"))},
        tag="views",
        description="Takes no query parameters; any is rejected (400).",
        errors=(400,),
    ),
    Route(
        "post", "/api/views", "createView", "Save a view",
        {201: response("The view as stored.", ref("SavedView"), Location="Location")},
        tag="views",
        description="Saves a name for a set of GET /api/tasks parameters, validated as that route validates "
        "them. 409 `conflict` when you already have a view of that name.",
        body="SavedViewCreate", errors=(409,),
    ),
    Route(
        "get", "/api/views/{view_id}", "getView", "Read a saved view",
        {200: response("The view.", ref("SavedView"))},
        tag="views",
    ),
    Route(
        "delete", "/api/views/{view_id}", "deleteView", "Delete a saved view",
        {204: response("Deleted; no body.")},
        tag="views",
        description="Deletes the view for good; deleting it again answers 404. Tasks are not touched.",
    ),
    Route(
        "get", "/health", "getHealth", "Liveness",
        {200: response("The process is up.", ref("Health"))},
        tag="operations",
    ),
    Route(
        "get", "/ready", "getReadiness", "Readiness",
        {
            200: response("The worker has joined its consumer group and PostgreSQL answers.", ref("Readiness")),
            503: response("Not ready yet; `checks` says what is missing.", ref("Readiness")),
        },
        tag="operations",
    ),
    Route(
        "get", "/openapi.json", "getOpenApiDocument", "This document",
        {200: response("The OpenAPI 3.1 description of the API.", ref("OpenApiDocument"))},
        tag="operations",
    ),
    Route(
        "get", "/ws", "openUpdateSocket", "Live updates (WebSocket)",
        {101: {
            "description": "Switching to the WebSocket protocol. The server sends JSON text messages: with "
            "`since`, first every change after that sequence number from the audit trail, oldest first; then "
            '`{"type": "ready", "seq": N}`; then each new change as it happens: `{"type": "task.created" | '
            '"task.updated" | "task.completed" | "task.uncompleted" | "task.deleted", "seq", "event_id", '
            '"task_id", "task", "changes", "occurred_at"}` (the shape of streams/schemas/task-update.json). '
            "Sequence numbers are per user, gap-free and increasing: reconnect with `since` = the last one "
            "received to miss nothing. A `since` above the user's latest sequence number (the server's data "
            'was restored or reset) cannot be resumed: the socket goes live from the latest and says '
            '`{"type": "ready", "seq": <latest>, "reset": true}`; reload your state (e.g. GET /api/tasks). '
            'Send `{"type": "ping"}` for a `pong`; the server also pings every 20 s. '
            'Anything else the client sends gets `{"type": "error", "error": "bad_message", "message"}` and '
            "the socket stays open. "
            "Close codes: 1001 the server is shutting down (reconnect), 4008 the client fell more than 1,000 "
            "updates behind (reconnect with since).",
            "headers": {"X-Request-ID": ref("RequestId", "headers")},
        }},
        tag="live",
        description="Authenticate with the Authorization header, the `token` query parameter, or (browsers) "
        "the Sec-WebSocket-Protocol header `bearer, <token>` (the server then selects `bearer`). A socket "
        "receives only its own user's changes, whichever worker handled the write.",
        query=("SocketToken", "Since"), errors=(400, 401),
    ),
    Route(
        "get", "/metrics", "getMetrics", "Prometheus metrics",
        {200: {
            "description": "The Prometheus text exposition format: HTTP requests by route template, Kafka "
            "publishing, outbox backlog, consumer lag, agent throughput, database latency and pool, "
            "process metrics. No authentication: expose it only to the monitoring network.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "headers": {"X-Request-ID": ref("RequestId", "headers")},
        }},
        tag="operations",
    ),
)

TASK_TAGS = [
    {"name": "tasks", "description": "Your tasks."},
    {"name": "audit", "description": "What happened to a task, change by change."},
    {"name": "views", "description": "Saved views: named task queries, applied with GET /api/tasks?view=ID."},
    {"name": "operations", "description": "Probes and this document; no authentication."},
    {"name": "live", "description": "Live updates of your tasks over a WebSocket."},
]


# Reminders, notifications, webhooks and email -----------------------------------------------

ISO_DURATION = r"^[Pp](?=.)(?:\d+[Ww])?(?:\d+[Dd])?(?:[Tt](?=\d)(?:\d+[Hh])?(?:\d+[Mm])?(?:\d+[Ss])?)?$"

REMINDER_PARAMETERS: dict[str, Schema] = {
    "ReminderId": {
        "name": "reminder_id", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The reminder's id (a UUID). " + not_found_rule("A reminder"),
    },
    "NotificationId": {
        "name": "notification_id", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The notification's id (a UUID). " + not_found_rule("A notification"),
    },
    "WebhookId": {
        "name": "webhook_id", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The webhook's id (a UUID). " + not_found_rule("A webhook"),
    },
    "Upcoming": query_bool("upcoming", "true: only reminders not sent yet."),
    "Unread": query_bool("unread", "true: only unread notifications that are not snoozed; false: the others."),
    "PageLimit": query_int("limit", default=50, minimum=1, maximum=200, description="At most this many."),
}
REMINDER_PATH_PARAMETERS = {"reminder_id": "ReminderId", "notification_id": "NotificationId", "webhook_id": "WebhookId"}
REMINDER_OWNED_IDS = ("reminder_id", "notification_id", "webhook_id")

_NULLABLE_TIME = nullable(TIMESTAMP)
REMINDER_SCHEMAS: dict[str, Schema] = {
    "Reminder": closed_object({
        "id": UUID, "task_id": UUID, "remind_at": TIMESTAMP,
        "before_due": described(nullable({"type": "string", "pattern": ISO_DURATION}),
                                "The ISO-8601 duration before the due date (canonical form); null when absolute."),
        "sent": {"type": "boolean"}, "sent_at": _NULLABLE_TIME, "created_at": TIMESTAMP,
    }, required=("id", "task_id", "remind_at", "before_due", "sent", "sent_at", "created_at")),
    "ReminderCreate": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "remind_at": described(TIMESTAMP, "When to remind, with a UTC offset; must be in the future."),
            "before_due": {"type": "string", "pattern": ISO_DURATION, "examples": ["PT1H", "P1DT12H"],
                           "description": "How long before the task's due date (weeks, days, hours, minutes, "
                           "seconds; up to 365 days). The task needs a due date; the reminder follows it."},
        },
        "minProperties": 1, "maxProperties": 1,
        "description": "Exactly one of remind_at (absolute) or before_due (relative).",
    },
    "ReminderList": closed_object({"reminders": {"type": "array", "items": ref("Reminder")},
                                   "limit": {"type": "integer"}}, required=("reminders",)),
    "Notification": closed_object({
        "id": UUID, "kind": {"type": "string", "examples": ["reminder"]}, "title": {"type": "string"},
        "body": {"type": "string"},
        "data": {"type": "object", "description": "For reminders: reminder_ids, task_ids, remind_at."},
        "reminder_id": nullable(UUID), "read": {"type": "boolean"}, "read_at": _NULLABLE_TIME,
        "snoozed_until": _NULLABLE_TIME, "created_at": TIMESTAMP,
    }, required=("id", "kind", "title", "body", "data", "reminder_id", "read", "read_at", "snoozed_until",
                 "created_at")),
    "NotificationList": closed_object({"notifications": {"type": "array", "items": ref("Notification")},
                                       "limit": {"type": "integer"}}, required=("notifications", "limit")),
    "Snooze": closed_object({"minutes": {"type": "integer", "minimum": SNOOZE_MIN, "maximum": SNOOZE_MAX}},
                            required=("minutes",)),
    "ReadAll": closed_object({"marked_read": {"type": "integer", "minimum": 0}}, required=("marked_read",)),
    "NotificationSettings": closed_object({
        "email": described(nullable({"type": "string", "format": "email"}),
                           "Where reminder emails go (only when the server has SMTP_URL); null: none."),
        "updated_at": _NULLABLE_TIME,
    }, required=("email", "updated_at")),
    "NotificationSettingsUpdate": closed_object({"email": nullable({"type": "string", "maxLength": 254})},
                                                required=("email",)),
    "WebhookCreate": closed_object({
        "url": {"type": "string", "pattern": "^https?://", "maxLength": 2000,
                "description": "http:// or https://, without credentials."},
        "events": {"type": "array", "minItems": 1,
                   "items": {"type": "string", "enum": ["*", "task.*", "reminder.*", *hooks.EVENT_TYPES]}},
        "secret": {"type": "string", "minLength": SECRET_MIN, "maxLength": SECRET_MAX,
                   "description": "HMAC key for X-Taskstream-Signature; generated when left out."},
    }, required=("url", "events")),
    "Webhook": closed_object({
        "id": UUID, "url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string"}},
        "active": {"type": "boolean"}, "consecutive_failures": {"type": "integer", "minimum": 0},
        "disabled_at": _NULLABLE_TIME, "disabled_reason": nullable({"type": "string"}), "created_at": TIMESTAMP,
        "secret": {"type": "string", "description": "Only in the answer to POST /api/webhooks."},
    }, required=("id", "url", "events", "active", "consecutive_failures", "disabled_at", "disabled_reason",
                 "created_at")),
    "WebhookList": closed_object({"webhooks": {"type": "array", "items": ref("Webhook")}}, required=("webhooks",)),
    "WebhookDeliveryPage": closed_object({
        "webhook_id": UUID, "limit": {"type": "integer"},
        "deliveries": {"type": "array", "items": closed_object({
            "id": UUID, "event_id": {"type": "string"}, "event_type": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
            "attempts": {"type": "integer"}, "next_attempt_at": _NULLABLE_TIME,
            "last_status_code": nullable({"type": "integer"}), "last_error": nullable({"type": "string"}),
            "created_at": TIMESTAMP, "delivered_at": _NULLABLE_TIME,
        })},
    }, required=("webhook_id", "deliveries", "limit")),
}

WEBHOOK_DELIVERY_NOTE = (
    "Each event is POSTed as JSON `{event_id, event, occurred_at, data, webhook_id, delivery_id}` with headers "
    "`X-Taskstream-Event`, `X-Taskstream-Delivery` (the same on every retry) and `X-Taskstream-Signature: "
    "sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`. Anything but a 2xx within 10 s is "
    f"retried with exponential backoff and jitter, up to {hooks.MAX_ATTEMPTS} attempts; after "
    f"{hooks.DISABLE_AFTER} failed attempts in a row the webhook is disabled."
)

REMINDER_ROUTES: tuple[Route, ...] = (
    Route("post", "/api/tasks/{task_id}/reminders", "createReminder", "Add a reminder to a task",
          {201: response("The reminder as stored.", ref("Reminder"), Location="Location")}, tag="reminders",
          description="400 naming before_due when the task has no due date or the time is already past; "
          "409 when the task is completed.", body="ReminderCreate", errors=(409,)),
    Route("get", "/api/tasks/{task_id}/reminders", "listTaskReminders", "List a task's reminders",
          {200: response("The task's reminders, soonest first.", ref("ReminderList"))}, tag="reminders",
          errors=(400,)),
    Route("get", "/api/reminders", "listReminders", "Your reminders across tasks",
          {200: response("Soonest first.", ref("ReminderList"))}, tag="reminders", query=("Upcoming", "PageLimit")),
    Route("delete", "/api/reminders/{reminder_id}", "deleteReminder", "Delete a reminder",
          {204: response("Deleted; no body.")}, tag="reminders"),
    Route("get", "/api/notifications", "listNotifications", "Your notifications",
          {200: response("Newest first.", ref("NotificationList"))}, tag="notifications",
          query=("Unread", "PageLimit")),
    Route("post", "/api/notifications/{notification_id}/read", "readNotification", "Mark a notification read",
          {200: response("The notification.", ref("Notification"))}, tag="notifications"),
    Route("post", "/api/notifications/read-all", "readAllNotifications", "Mark every notification read",
          {200: response("How many were unread.", ref("ReadAll"))}, tag="notifications"),
    Route("post", "/api/notifications/{notification_id}/snooze", "snoozeNotification", "Snooze a notification",
          {200: response("The notification, unread and hidden until snoozed_until.", ref("Notification"))},
          tag="notifications", body="Snooze"),
    Route("get", "/api/notification-settings", "getNotificationSettings", "Read your notification settings",
          {200: response("Your settings.", ref("NotificationSettings"))}, tag="notifications", errors=(400,)),
    Route("put", "/api/notification-settings", "putNotificationSettings", "Set where reminder emails go",
          {200: response("Your settings.", ref("NotificationSettings"))}, tag="notifications",
          body="NotificationSettingsUpdate"),
    Route("post", "/api/webhooks", "createWebhook", "Subscribe a URL to events",
          {201: response("The webhook, with its secret (shown only here).", ref("Webhook"), Location="Location")},
          tag="webhooks", description=WEBHOOK_DELIVERY_NOTE, body="WebhookCreate", errors=(409,)),
    Route("get", "/api/webhooks", "listWebhooks", "List your webhooks",
          {200: response("Your webhooks, without secrets.", ref("WebhookList"))}, tag="webhooks", errors=(400,)),
    Route("get", "/api/webhooks/{webhook_id}", "getWebhook", "Read a webhook",
          {200: response("The webhook, without its secret.", ref("Webhook"))}, tag="webhooks"),
    Route("delete", "/api/webhooks/{webhook_id}", "deleteWebhook", "Delete a webhook",
          {204: response("Deleted with its delivery log; no body.")}, tag="webhooks"),
    Route("post", "/api/webhooks/{webhook_id}/enable", "enableWebhook", "Turn a disabled webhook on again",
          {200: response("The webhook, active, with its failure count reset. Deliveries given up while it was "
                         "disabled are not sent again; it gets the events from now on.", ref("Webhook"))},
          tag="webhooks", errors=(409,)),
    Route("get", "/api/webhooks/{webhook_id}/deliveries", "listWebhookDeliveries", "Read a webhook's delivery log",
          {200: response("Newest first.", ref("WebhookDeliveryPage"))}, tag="webhooks", query=("PageLimit",)),
)

REMINDER_TAGS = [
    {"name": "reminders", "description": "Reminders on tasks: at a time, or before the due date."},
    {"name": "notifications", "description": "The in-app inbox reminders fill, and where else they go."},
    {"name": "webhooks", "description": "Your HTTP endpoints for task.* and reminder.* events, signed."},
]


# The dashboard and the API reference page: routes outside /api, no authentication ----------

DASHBOARD_PARAMETERS: dict[str, Schema] = {
    "StaticPath": {
        "name": "path", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
        "description": "A file under the dashboard's static folder; it may contain `/` (e.g. `js/main.js`). "
        "Anything outside that folder, hidden files and unlisted file types answer 404.",
    },
}
DASHBOARD_PATH_PARAMETERS = {"path": "StaticPath"}


def _file_response(description: str, content_types: list[str], **headers: Schema) -> Schema:
    return {
        "description": description,
        "content": {content_type: {"schema": {"type": "string"}} for content_type in content_types},
        "headers": {
            "X-Request-ID": ref("RequestId", "headers"),
            "Cache-Control": {"description": "`no-cache`: revalidate each time (answered with 304 when unchanged).",
                              "schema": {"type": "string", "const": "no-cache"}},
            "ETag": {"description": "The file's validator; send it back as If-None-Match.",
                     "schema": {"type": "string"}},
            **headers,
        },
    }


_CSP_HEADER: Schema = {"description": "Only this origin's files; no inline scripts or styles.",
                       "schema": {"type": "string", "const": CONTENT_SECURITY_POLICY}}

DASHBOARD_ROUTES: tuple[Route, ...] = (
    Route("get", "/", "getDashboard", "The dashboard",
          {200: _file_response("The dashboard's page (HTML). Sign in there with a bearer token; it keeps the "
                               "token in the tab's sessionStorage only.", ["text/html"],
                               **{"Content-Security-Policy": _CSP_HEADER})},
          tag="dashboard"),
    Route("get", "/static/{path}", "getDashboardFile", "A file of the dashboard",
          {200: _file_response("The file, with the content type of its extension.",
                               sorted({t.split(";")[0] for t in CONTENT_TYPES.values()})),
           404: response("No such file here.", ref("Error"))},
          tag="dashboard", errors=(404,)),
    Route("get", "/docs", "getApiReference", "This document as a readable reference (HTML)",
          {200: {
              "description": "Every operation with its parameters, request body fields, responses and error codes, "
              "rendered on the server from this document (no scripts; `taskstream api-docs` prints the same as "
              "Markdown).",
              "content": {"text/html": {"schema": {"type": "string"}}},
              "headers": {"X-Request-ID": ref("RequestId", "headers"), "Content-Security-Policy": _CSP_HEADER},
          }},
          tag="operations"),
)

DASHBOARD_TAGS = [{"name": "dashboard", "description": "The web dashboard: a page and its files."}]


# Recurring tasks and the calendar feed -------------------------------------------------------

_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_WEEKDAY = r"^\s*(?:[A-Za-z]{2}|[A-Za-z]{6,9})\s*$"

RECURRING_PARAMETERS: dict[str, Schema] = {
    "RecurringTaskId": {
        "name": "template_id", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The recurring task's id (a UUID). " + not_found_rule("A recurring task"),
    },
    "CalendarSecret": {
        "name": "token", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The secret from POST /api/calendar/token. A malformed, rotated or revoked one answers 404.",
    },
    "RecurringStatus": query("status", choice("active", "paused", "ended"), "Only templates with this status."),
    "OccurrencesUpcoming": query_int(
        "upcoming", default=recurring_views.UPCOMING_DEFAULT, minimum=0, maximum=recurring_views.UPCOMING_MAX,
        description="How many due times to come to list."),
    "OccurrencesPast": query_int(
        "past", default=recurring_views.PAST_DEFAULT, minimum=0, maximum=recurring_views.PAST_MAX,
        description="How many of the newest occurrences created to list."),
}
RECURRING_PATH_PARAMETERS = {"template_id": "RecurringTaskId", "token": "CalendarSecret"}
RECURRING_OWNED_IDS = ("template_id",)
RECURRING_HEADERS: dict[str, Schema] = {
    "TemplateETag": {
        "description": 'The recurring task\'s version, quoted (`"3"`); send it back as If-Match.',
        "schema": {"type": "string", "pattern": '^"[1-9][0-9]*"$'},
    },
}

_RULE_INPUT: dict[str, Schema] = {
    "frequency": described(nullable({"type": "string", "pattern": rf"^\s*{any_case(*_FREQUENCIES)}\s*$"}),
                           "DAILY, WEEKLY, MONTHLY or YEARLY (any case). Exactly one of frequency, cron, rrule."),
    "interval": described(nullable({"type": "integer", "minimum": 1, "maximum": MAX_INTERVAL}),
                          "Every N days/weeks/months/years (frequency rules; default 1)."),
    "by_weekday": described(nullable({"type": "array", "minItems": 1, "items": {"type": "string", "pattern": _WEEKDAY}}),
                            "WEEKLY only: the weekdays, as MO..SU or full names, any case."),
    "by_month_day": described(
        {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 31}, {"const": -1},
                   {"type": "string", "pattern": r"^\s*[Ll][Aa][Ss][Tt]\s*$"}, {"type": "null"}]},
        "MONTHLY only: the day of the month (29-31 fall back to a shorter month's last day, without drifting), "
        "or -1 / \"last\" for the last day."),
    "by_nth_weekday": described(nullable({"type": "string", "examples": ["2TU", "-1FR", "2nd TU", "last FR"]}),
                                "MONTHLY only: the nth weekday (1 to 4, or -1 to -4 counting from the end)."),
    "cron": described(nullable({"type": "string", "examples": ["0 9 * * 1-5", "@daily"]}),
                      "A five-field cron expression (or @daily-style alias), evaluated in `timezone`."),
    "rrule": described(nullable({"type": "string", "examples": ["FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1"]}),
                       "An RFC 5545 RRULE (FREQ DAILY to YEARLY; \"RRULE:\" optional); COUNT and UNTIL become "
                       "count and end_date."),
    "start_date": described(TIMESTAMP, "The first due time, with a UTC offset; its local wall time in `timezone` is "
                            "the time of day every occurrence keeps, across DST."),
    "timezone": described(nullable({"type": "string", "examples": ["Europe/Berlin"]}),
                          "An IANA time zone (default UTC)."),
    "end_date": described(
        {"anyOf": [TIMESTAMP, {"type": "string", "format": "date"}, {"type": "null"}]},
        "The last moment a due time may fall on (a date means the end of that day in `timezone`)."),
    "count": described(nullable({"type": "integer", "minimum": 1, "maximum": MAX_COUNT}),
                       "How many slots the series has (skipped ones included)."),
    "repeat_from": described(nullable({"type": "string", "pattern": r"^\s*(?:[Dd][Uu][Ee]_[Dd][Aa][Tt][Ee]|"
                                       r"[Cc][Oo][Mm][Pp][Ll][Ee][Tt][Ii][Oo][Nn]_[Dd][Aa][Tt][Ee])\s*$"}),
                             "due_date (default): the next slot after the finished one's; completion_date: counted "
                             "from when it was completed."),
}
_RULE_OUTPUT: dict[str, Schema] = {
    "frequency": {"type": ["string", "null"], "enum": [*_FREQUENCIES, None]},
    "interval": nullable({"type": "integer"}),
    "by_weekday": nullable({"type": "array", "items": {"type": "string", "enum": ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]}}),
    "by_month_day": nullable({"type": "integer"}),
    "by_nth_weekday": nullable({"type": "string"}),
    "cron": nullable({"type": "string"}),
    "rrule": nullable({"type": "string"}),
    "start_date": TIMESTAMP,
    "timezone": {"type": "string"},
    "end_date": nullable(TIMESTAMP),
    "count": nullable({"type": "integer"}),
    "repeat_from": {"type": "string", "enum": ["due_date", "completion_date"]},
}
_TEMPLATE_REMINDERS = described(
    {"type": "array", "maxItems": 5, "items": {"type": "string", "examples": ["PT1H", "P1D"]}},
    "Reminder offsets (ISO-8601 durations) before each occurrence's due date; each new occurrence gets one "
    "reminder per offset (offsets already past when it is created are skipped).")
_TEMPLATE_INPUT = {**{name: INPUT_FIELDS[name] for name in ("title", "description", "priority", "tags")},
                   "reminders": _TEMPLATE_REMINDERS}

RECURRING_SCHEMAS: dict[str, Schema] = {
    "RecurringTask": closed_object({
        "id": UUID, "user_id": USER_ID, "title": {"type": "string"}, "description": nullable({"type": "string"}),
        "priority": {"type": "string", "enum": list(PRIORITIES)}, "tags": {"type": "array", "items": {"type": "string"}},
        "reminders": _TEMPLATE_REMINDERS,
        **_RULE_OUTPUT,
        "status": described({"type": "string", "enum": ["active", "paused", "ended"]},
                            "Read-only. ended: end_date or count reached, no more occurrences."),
        "next_occurrence": described(nullable(TIMESTAMP), "Read-only: the due time of the newest occurrence while "
                                     "active; null when paused or ended."),
        "occurrences_created": {"type": "integer", "minimum": 0},
        "version": {"type": "integer", "minimum": 1},
        "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
    }, required=("id", "user_id", "title", "description", "priority", "tags", "reminders", *_RULE_OUTPUT, "status",
                 "next_occurrence", "occurrences_created", "version", "created_at", "updated_at")),
    "RecurringTaskCreate": closed_object({**_TEMPLATE_INPUT, **_RULE_INPUT}, required=("title", "start_date"),
                                         description="Template fields and the rule, side by side."),
    "RecurringTaskUpdate": closed_object(
        {**_TEMPLATE_INPUT, **_RULE_INPUT}, minProperties=1,
        description="Any of the fields. Rule fields merge into the stored rule (null clears end_date or count); "
        "naming frequency, cron or rrule replaces the schedule kind with its own fields."),
    "RecurringTaskList": closed_object({
        "recurring_tasks": {"type": "array", "items": ref("RecurringTask")}, "total": {"type": "integer"},
        "limit": {"type": "integer"}, "offset": {"type": "integer"},
    }, required=("recurring_tasks", "total", "limit", "offset")),
    "Occurrences": closed_object({
        "recurring_task_id": UUID,
        "upcoming": described({"type": "array", "items": TIMESTAMP},
                              "Due times still to come, from the rule, after the newest occurrence and now (as if "
                              "each occurrence were finished on time). Empty when paused or ended."),
        "past": {"type": "array", "description": "The occurrences created, oldest first (the open one included).",
                 "items": closed_object({
                     "task_id": nullable(UUID), "due_date": TIMESTAMP, "completed": {"type": "boolean"},
                     "deleted": described({"type": "boolean"}, "The task was deleted (the schedule went on)."),
                     "skipped_before": described(
                         {"type": "array", "items": TIMESTAMP},
                         f"Slots already past when the previous occurrence was finished (late), skipped; at most "
                         f"{MAX_SKIPPED}."),
                     "skipped_truncated": described({"type": "boolean"}, "More were skipped than listed."),
                 }, required=("task_id", "due_date", "completed", "deleted", "skipped_before", "skipped_truncated"))},
    }, required=("recurring_task_id", "upcoming", "past")),
    "CalendarFeedUrl": closed_object({
        "url": described({"type": "string"}, "The feed's address; the secret in it is shown only here."),
        "path": {"type": "string", "pattern": r"^/calendar/[A-Za-z0-9_-]+\.ics$"},
        "created_at": TIMESTAMP,
    }, required=("url", "path", "created_at")),
}


def _template_response(description: str, **headers: str) -> Schema:
    return response(description, ref("RecurringTask"), ETag="TemplateETag", **headers)


def _calendar_response(description: str) -> Schema:
    return {
        "description": description,
        "content": {"text/calendar": {"schema": {"type": "string"}}},
        "headers": {"X-Request-ID": ref("RequestId", "headers")},
    }


_TEMPLATE_CONDITIONAL = " Send If-Match with the recurring task's ETag to act only if nobody changed it meanwhile."

RECURRING_ROUTES: tuple[Route, ...] = (
    Route("get", "/api/recurring-tasks", "listRecurringTasks", "List your recurring tasks",
          {200: response("Newest first.", ref("RecurringTaskList"))}, tag="recurring",
          query=("RecurringStatus", "Limit", "Offset")),
    Route("post", "/api/recurring-tasks", "createRecurringTask", "Create a recurring task",
          {201: _template_response("The template; its first occurrence (a task with recurring_task_id, due at the "
                                   "rule's first slot) already exists.", Location="Location")},
          tag="recurring", body="RecurringTaskCreate",
          description="Creates the template and its first occurrence in one transaction (the task's `created` "
          "event is published). An invalid rule (unknown timezone, a cron that never fires, interval 0, end "
          "before start, ...) is a 400 whose `details.field` names the field. Completing or deleting the newest "
          "occurrence creates the next one (within a fraction of a second), exactly once per slot."),
    Route("get", "/api/recurring-tasks/{template_id}", "getRecurringTask", "Read a recurring task",
          {200: _template_response("The template.")}, tag="recurring"),
    Route("patch", "/api/recurring-tasks/{template_id}", "updateRecurringTask", "Change a recurring task",
          {200: _template_response("The template after the change.")}, tag="recurring",
          body="RecurringTaskUpdate", conditional=True,
          description="Changes future occurrences only: title, description, priority and tags apply to occurrences "
          "created afterwards; a new rule applies from the next slot (the open occurrence keeps its due date). "
          "A rule change that extends an ended series revives it." + _TEMPLATE_CONDITIONAL),
    Route("delete", "/api/recurring-tasks/{template_id}", "deleteRecurringTask", "Delete a recurring task",
          {204: response("Deleted; no body.")}, tag="recurring", conditional=True,
          description="Stops all future occurrences. The tasks it created stay: each is unlinked "
          "(`recurring_task_id` set to null), with its own `updated` audit row and event." + _TEMPLATE_CONDITIONAL),
    Route("post", "/api/recurring-tasks/{template_id}/pause", "pauseRecurringTask", "Pause a recurring task",
          {200: _template_response("The template, paused.")}, tag="recurring", conditional=True, errors=(409,),
          description="No new occurrences until resumed; the open one stays. Pausing a paused template changes "
          "nothing; an ended one is a 409." + _TEMPLATE_CONDITIONAL),
    Route("post", "/api/recurring-tasks/{template_id}/resume", "resumeRecurringTask", "Resume a recurring task",
          {200: _template_response("The template, active.")}, tag="recurring", conditional=True, errors=(409,),
          description="Continues from the next future slot: creates that occurrence at once unless the newest "
          "one is still open (slots passed meanwhile are recorded as skipped). An ended template is a 409."
          + _TEMPLATE_CONDITIONAL),
    Route("get", "/api/recurring-tasks/{template_id}/occurrences", "listRecurrenceOccurrences",
          "Upcoming due times and past occurrences",
          {200: response("Computed from the rule and the occurrences created.", ref("Occurrences"))},
          tag="recurring", query=("OccurrencesUpcoming", "OccurrencesPast")),
    Route("get", "/api/calendar.ics", "getCalendarFeed", "Your calendar feed (iCalendar)",
          {200: _calendar_response("VTODOs for your open tasks with a due date (the soonest 5,000) and for your "
                                   "active recurring tasks (DTSTART and RRULE, with VTIMEZONEs).")},
          tag="calendar", errors=(400,), description="Takes no query parameters; any is rejected (400)."),
    Route("post", "/api/calendar/token", "createCalendarFeedUrl", "Create or rotate your secret feed URL",
          {201: response("The feed URL, for calendar apps that cannot send a header.", ref("CalendarFeedUrl"))},
          tag="calendar", description="A new secret each time; the previous URL stops working. Only the "
          "secret's hash is stored, so it is shown only in this answer."),
    Route("delete", "/api/calendar/token", "revokeCalendarFeedUrl", "Revoke your secret feed URL",
          {204: response("Revoked; no body.")}, tag="calendar", errors=(404,),
          description="404 when you have none."),
    Route("get", "/calendar/{token}.ics", "getSecretCalendarFeed", "A calendar feed by its secret URL",
          {200: _calendar_response("The same feed as GET /api/calendar.ics, for the URL's owner.")},
          tag="calendar", errors=(404, 503),
          description="No Authorization header: the secret in the path is the credential."),
)

RECURRING_TAGS = [
    {"name": "recurring", "description": "Recurring tasks: templates whose occurrences are created as tasks."},
    {"name": "calendar", "description": "An iCalendar feed of your tasks and recurring tasks."},
]


# The registry: every part of the API, joined once -----------------------------------------

PARAMETERS: dict[str, Schema] = {
    **TASK_PARAMETERS, **REMINDER_PARAMETERS, **DASHBOARD_PARAMETERS, **RECURRING_PARAMETERS,
}
#: Path template variable -> the parameter describing it.
PATH_PARAMETERS = {
    **TASK_PATH_PARAMETERS, **REMINDER_PATH_PARAMETERS, **DASHBOARD_PATH_PARAMETERS, **RECURRING_PATH_PARAMETERS,
}
#: Path template variables naming something of the caller's: when it does not exist, 404.
OWNED_IDS = (*TASK_OWNED_IDS, *REMINDER_OWNED_IDS, *RECURRING_OWNED_IDS)
HEADERS: dict[str, Schema] = {**TASK_HEADERS, **RECURRING_HEADERS}
ROUTES: tuple[Route, ...] = (*TASK_ROUTES, *REMINDER_ROUTES, *DASHBOARD_ROUTES, *RECURRING_ROUTES)
TAGS = [*TASK_TAGS, *REMINDER_TAGS, *DASHBOARD_TAGS, *RECURRING_TAGS]


def schemas() -> dict[str, Schema]:
    return {**task_schemas(), **REMINDER_SCHEMAS, **RECURRING_SCHEMAS}


# Operations and paths ---------------------------------------------------------------------


def operation(route: Route) -> Schema:
    parameters = [ref(name, "parameters") for name in route.query]
    if route.conditional:
        parameters.append(ref("IfMatch", "parameters"))
    parameters.append(ref("RequestId", "parameters"))
    responses = {str(status): body for status, body in route.responses.items()}
    for status in route.error_codes():
        responses.setdefault(str(status), ref(ERRORS[status][0], "responses"))
    result: Schema = {"operationId": route.operation_id, "summary": route.summary, "tags": [route.tag]}
    if route.description:
        result["description"] = route.description
    if route.authenticated:
        result["security"] = [{SECURITY_SCHEME: []}]
    result["parameters"] = parameters
    if route.body:
        result["requestBody"] = {"required": True, "content": {JSON: {"schema": ref(route.body)}}}
    result["responses"] = dict(sorted(responses.items()))
    return result


def path_variables(path: str) -> list[str]:
    """The template variables of a path, also those inside a segment (`/calendar/{token}.ics`)."""
    return re.findall(r"\{([^}]+)\}", path)


def path_parameters(path: str) -> list[Schema]:
    return [ref(PATH_PARAMETERS[name], "parameters") for name in path_variables(path)]


#: Operation that creates something -> the path variable naming it; its 201 links to every route that
#: needs only that variable (clients and stateful API fuzzers follow these, e.g. create -> read -> delete).
CREATES = {
    "createTask": "task_id", "createView": "view_id", "createReminder": "reminder_id",
    "createWebhook": "webhook_id", "createRecurringTask": "template_id",
}


def link_name(operation_id: str) -> str:
    return operation_id[0].upper() + operation_id[1:]


def add_links(routes: tuple[Route, ...], result: dict[str, Schema]) -> None:
    """OpenAPI links from each created thing to what can be done with it, by its `id` in the 201 body."""
    for creator in routes:
        variable = CREATES.get(creator.operation_id)
        if variable is None:
            continue
        links = {
            link_name(target.operation_id): {
                "operationId": target.operation_id,
                "parameters": {variable: "$response.body#/id"},
                "description": f"`id` in the answer is the `{variable}` of {target.method.upper()} {target.path}.",
            }
            for target in routes
            if path_variables(target.path) == [variable]
        }
        response = result[creator.path][creator.method]["responses"]["201"]
        response["links"] = links
    # Removing a tag needs one the task has: the answer to adding tags names them.
    tags = next((r for r in routes if r.operation_id == "addTaskTags"), None)
    if tags is not None and any(r.operation_id == "removeTaskTag" for r in routes):
        result[tags.path][tags.method]["responses"]["200"]["links"] = {
            "RemoveTaskTag": {
                "operationId": "removeTaskTag",
                "parameters": {"task_id": "$response.body#/id", "tag": "$response.body#/tags/0"},
                "description": "Remove the first tag the task now has.",
            }
        }


def paths(routes: tuple[Route, ...] | None = None) -> dict[str, Schema]:
    """The paths object for `routes` (default: every route in the registry)."""
    routes = ROUTES if routes is None else routes
    result: dict[str, Schema] = {}
    for route in routes:
        item = result.setdefault(route.path, {})
        if "parameters" not in item and (shared := path_parameters(route.path)):
            item["parameters"] = shared
        item[route.method] = operation(route)
    add_links(routes, result)
    return result


# The document -------------------------------------------------------------------------------


def package_version() -> str:
    try:
        return metadata.version("taskstream")
    except metadata.PackageNotFoundError:
        return "0.0.0"


DESCRIPTION = f"""\
A self-hostable, event-driven task service.

**Authentication.** Every `/api` route needs `Authorization: Bearer <token>`: a JWT signed with
{ALGORITHM} whose `sub` is your user id (`taskstream token <user>` issues one).

**Ownership.** You only ever see your own tasks and saved views. {NOT_FOUND_RULE}

**Concurrency.** Task responses carry an `ETag` (the task's version). Send it back as `If-Match`
on a change to fail with 412 instead of overwriting someone else's change.

**Errors.** Every failure is JSON `{{"error", "message", "details"}}` (see the Error schema), and
every response has an `X-Request-ID` header.

**Events.** Each change is recorded in the task's audit trail and published on the `task-events`
Kafka topic after it commits.
"""


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, as a fresh dict the caller may change."""
    return copy.deepcopy({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "taskstream",
            "version": package_version(),
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "responses": error_responses(),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": f"A JWT signed with {ALGORITHM}; `sub` is the user id, `exp` is required.",
                }
            },
        },
    })


@app.page("/openapi.json")
class OpenApiView(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        return self.respond(document())
