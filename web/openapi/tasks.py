"""The tasks: their schemas, the parameters of GET /api/tasks (the filter language included) and the task routes."""

from __future__ import annotations

from typing import Any

from db.listing import SORT_KEYS
from streams.events import PRIORITIES
from streams.rules import filterlang

from ..validation import fields as v
from ..validation.listing import SEARCH_MAX
from .schema import (
    BOOLEAN_QUERY,
    NOT_BLANK,
    TIMESTAMP,
    USER_ID,
    UUID,
    Resource,
    Route,
    Schema,
    any_case,
    choice,
    closed_object,
    comma_list,
    described,
    not_found_rule,
    nullable,
    query,
    query_bool,
    query_instant,
    query_int,
    ref,
    response,
)

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
        {"type": ["string", "null"], "anyOf": [{"format": "date-time"}, {"format": "date"}, {"type": "null"}],
         "examples": ["2026-12-01T17:00:00+01:00", "2026-12-11"]},
        "An ISO-8601 date-time with a UTC offset (e.g. 2026-12-01T17:00:00+01:00), stored and returned in UTC; "
        "or a date alone (e.g. 2026-12-11) for an all-day task, due until that day ends in your time zone "
        "(GET /api/settings) and kept on that day when the zone changes; null clears it. A date-time without "
        f"an offset is rejected, and so is one outside {v.SUPPORTED_RANGE}.",
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
PRIORITY_WORD = any_case(*PRIORITIES)
#: A tag in a comma list: 1-TAG_MAX characters that neither start nor end with whitespace (it is trimmed).
TAG_WORD = rf"[^,\s](?:[^,]{{0,{v.TAG_MAX - 2}}}[^,\s])?"
PRIORITY_LIST = {"type": "string", "pattern": comma_list(PRIORITY_WORD), "examples": ["high", "HIGH,medium"]}
TAG_LIST = {"type": "string", "pattern": comma_list(TAG_WORD), "examples": ["work", "home,errands"]}


def task_schema() -> Schema:
    """The task as db.serialize.task_snapshot renders it (responses, audit snapshots, events)."""
    properties = {
        "id": UUID,
        "user_id": described(USER_ID, "The owner: the `sub` of the token that created the task."),
        "title": {"type": "string", "minLength": 1, "maxLength": v.TITLE_MAX},
        "description": nullable({"type": "string", "maxLength": v.DESCRIPTION_MAX}),
        "completed": {"type": "boolean"},
        "completed_at": described(nullable(TIMESTAMP), "When the task was last completed; null while open."),
        "due_date": described(
            {"type": ["string", "null"], "anyOf": [{"format": "date-time"}, {"format": "date"}, {"type": "null"}]},
            "An instant in UTC, or for an all-day task its calendar day (YYYY-MM-DD).",
        ),
        "all_day": described({"type": "boolean"}, "Whether due_date is a calendar day (an all-day task), due "
                             "until that day ends in your time zone."),
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


SCHEMAS: dict[str, Schema] = {
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
}

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

PARAMETERS: dict[str, Schema] = {
    "TaskId": {
        "name": "task_id", "in": "path", "required": True,
        # Deliberately not format: uuid: a malformed id is a missing task (404), not a bad request.
        "schema": {"type": "string"},
        "description": "The task's id (a UUID). " + not_found_rule("A task"),
    },
    "Tag": {
        "name": "tag", "in": "path", "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": v.TAG_MAX, "pattern": NOT_BLANK},
        "description": "The tag to remove; matched after trimming and lower-casing.",
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
        "punctuation is ignored. When full text finds fewer than 5 tasks, a misspelt word also finds tasks with a "
        "similar title word (`plumbr` finds `plumber`; trigram matching). Without `sort_by` the most relevant "
        "tasks come first, ranked among the 200 most recently created matches (ranking stays fast however many "
        "tasks match; `total` still counts every match up to 1000, and any `sort_by` pages through all of them).",
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
}

#: The parameters of GET /api/tasks, in the order the document lists them.
LIST_QUERY = (
    "Priority", "Tags", "TagsMode", "Completed", "DueBefore", "DueAfter", "CreatedAfter", "CreatedBefore", "Overdue",
    "HasDueDate", "Recurring", "Search", "Filter", "TimeZone", "SortBy", "SortOrder", "Limit", "Offset",
    "TaskCursor", "View",
)


def list_parameters() -> dict[str, Schema]:
    """GET /api/tasks parameters by their query-string name."""
    return {PARAMETERS[key]["name"]: PARAMETERS[key] for key in LIST_QUERY}


HEADERS: dict[str, Schema] = {
    "ETag": {
        "description": 'The task\'s version, quoted (`"3"`); send it back as If-Match.',
        "schema": {"type": "string", "pattern": '^"[1-9][0-9]*"$'},
    },
}


def task_response(description: str, **headers: str) -> Schema:
    return response(description, ref("Task"), ETag="ETag", **headers)


CONDITIONAL_NOTE = " Send If-Match with the task's ETag to make the change only if nobody changed it meanwhile."
NO_OP_NOTE = " A change to the values the task already has writes nothing: same version, no event."

ROUTES: tuple[Route, ...] = (
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
)

TAGS: tuple[Schema, ...] = (
    {"name": "tasks", "description": "Your tasks."},
)

RESOURCE = Resource(
    routes=ROUTES, tags=TAGS, schemas=SCHEMAS, parameters=PARAMETERS, headers=HEADERS,
    path_parameters={"task_id": "TaskId", "tag": "Tag"}, owned_ids=("task_id",), creates={"createTask": "task_id"},
)
