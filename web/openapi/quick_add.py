"""Quick add: one line of text read into a task or a recurring series; its schemas, parameter and route."""

from __future__ import annotations

from streams.events import PRIORITIES
from streams.rules.quick_add import MAX_TEXT, PRIORITY_WORDS

from .schema import Resource, Route, Schema, closed_object, described, nullable, query_bool, ref, response

_PRIORITY_TEXT = ", ".join(f"!{word}" for word in PRIORITY_WORDS)

DESCRIPTION = (
    "Reads one line such as `Pay rent every month on the last day #home !high` or `Call mom tomorrow 5pm remind "
    "me 30 min before` and creates what it says: a task (with its reminder) or a recurring task. The line may "
    "hold a due date and/or time in the user's zone (`tomorrow 5pm`, `next friday`, `in 3 days`, `in 2 hours`, "
    "`dec 11`, `2026-12-11`, `at 9am`; a date without a time is an all-day task, sent to the task API as a "
    "date alone), a schedule (`every day`, `every 3 days`, `every weekday`, `every mon and thu`, `every 2 weeks "
    "on mon`, `every month on the 15th`, `every month on the last day`, `every month on the 2nd tue`, `every "
    "year`; `every!` repeats from completion; a series without a time is due at 09:00), `#tags`, one priority "
    f"({_PRIORITY_TEXT}; !1 is the highest) and `remind me 30 min before` / `remind me 1 hour before`. The other "
    "words are the title; words in double quotes stay in it as they are. A part that is not understood for "
    "certain (`every blursday`, `next` alone, `!urgentest`, `every 2 hours`, which the recurring API cannot "
    "express here) is a 400 whose message starts with that part and whose `details.part` holds it: nothing "
    "is guessed. `?dry_run=true` answers 200 with what was understood and creates nothing (for a live "
    "preview)."
)

_RULE: Schema = {
    "type": "object",
    "description": "The rule in POST /api/recurring-tasks's form (frequency rules only).",
    "properties": {
        "frequency": {"type": "string", "enum": ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]},
        "interval": {"type": "integer", "minimum": 1},
        "by_weekday": {"type": "array", "items": {"type": "string", "enum": ["MO", "TU", "WE", "TH", "FR", "SA",
                                                                          "SU"]}},
        "by_month_day": {"type": "integer"},
        "by_nth_weekday": {"type": "string"},
        "start_date": {"type": "string", "format": "date-time"},
        "timezone": {"type": "string"},
        "repeat_from": {"type": "string", "enum": ["due_date", "completion_date"]},
    },
    "required": ["frequency", "interval", "start_date", "timezone", "repeat_from"],
}

SCHEMAS: dict[str, Schema] = {
    "QuickAddRequest": closed_object({
        "text": {"type": "string", "maxLength": MAX_TEXT, "examples": ["Pay rent every month on the last day "
                                                                       "#home !high"],
                 "description": "The line to read."},
        "time_zone": described(nullable({"type": "string", "examples": ["Europe/Berlin"]}),
                               "The IANA zone dates and times are read in; default: the user's (UTC until "
                               "one is set)."),
    }, required=("text",)),
    "QuickAddUnderstood": closed_object({
        "title": {"type": "string"},
        "due_date": described(nullable({"type": "string"}),
                              "ISO-8601 with the local offset; `YYYY-MM-DD` for an all-day task; for a series, "
                              "its first occurrence; null without a date."),
        "all_day": {"type": "boolean"},
        "time_zone": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "priority": described({"type": ["string", "null"], "enum": [*PRIORITIES, None]},
                              "null: none given (the task API's default applies)."),
        "recurrence": nullable(_RULE),
        "repeat_from_completion": {"type": "boolean"},
        "remind_before_minutes": nullable({"type": "integer", "minimum": 1}),
    }, required=("title", "due_date", "all_day", "time_zone", "tags", "priority", "recurrence",
                 "repeat_from_completion", "remind_before_minutes")),
    "QuickAddResult": closed_object({
        "kind": {"type": "string", "enum": ["task", "recurring"]},
        "understood": ref("QuickAddUnderstood"),
        "summary": {"type": "string", "examples": ['"Pay rent" · every month on the last day at 09:00 · first Thu '
                                                   '31 Dec 2026 UTC · #home · high']},
        "task": described(ref("Task"), "kind task, when created (not in a dry run)."),
        "recurring_task": described(ref("RecurringTask"), "kind recurring, when created (not in a dry run)."),
    }, required=("kind", "understood", "summary")),
}

PARAMETERS: dict[str, Schema] = {
    "DryRun": query_bool("dry_run", "true: answer 200 with what was understood and create nothing."),
}

ROUTES: tuple[Route, ...] = (
    Route(
        "post", "/api/tasks/quick-add", "quickAddTask", "Create a task or a recurring task from one line of text",
        {
            200: response("A dry run: what the line says; nothing was created.", ref("QuickAddResult")),
            201: response("Created: `task` (and its reminder) or `recurring_task` (and its first occurrence).",
                          ref("QuickAddResult"), Location="Location"),
        },
        description=DESCRIPTION, body="QuickAddRequest", query=("DryRun",),
    ),
)

RESOURCE = Resource(routes=ROUTES, schemas=SCHEMAS, parameters=PARAMETERS)
