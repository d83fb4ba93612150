"""Recurring tasks: templates with a rule, their schemas, parameters and routes."""

from __future__ import annotations

from streams.events import PRIORITIES
from streams.rules.recurrence import MAX_COUNT, MAX_INTERVAL, MAX_SKIPPED

from ..views import recurring as recurring_views
from .schema import (
    TIMESTAMP,
    USER_ID,
    UUID,
    Resource,
    Route,
    Schema,
    any_case,
    choice,
    closed_object,
    described,
    not_found_rule,
    nullable,
    query,
    query_int,
    ref,
    response,
)
from .tasks import INPUT_FIELDS

_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_WEEKDAY = r"^\s*(?:[A-Za-z]{2}|[A-Za-z]{6,9})\s*$"

PARAMETERS: dict[str, Schema] = {
    "RecurringTaskId": {
        "name": "template_id", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The recurring task's id (a UUID). " + not_found_rule("A recurring task"),
    },
    "RecurringStatus": query("status", choice("active", "paused", "ended"), "Only templates with this status."),
    "OccurrencesUpcoming": query_int(
        "upcoming", default=recurring_views.UPCOMING_DEFAULT, minimum=0, maximum=recurring_views.UPCOMING_MAX,
        description="How many due times to come to list."),
    "OccurrencesPast": query_int(
        "past", default=recurring_views.PAST_DEFAULT, minimum=0, maximum=recurring_views.PAST_MAX,
        description="How many of the newest occurrences created to list."),
}

HEADERS: dict[str, Schema] = {
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

SCHEMAS: dict[str, Schema] = {
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
}


def _template_response(description: str, **headers: str) -> Schema:
    return response(description, ref("RecurringTask"), ETag="TemplateETag", **headers)


_TEMPLATE_CONDITIONAL = " Send If-Match with the recurring task's ETag to act only if nobody changed it meanwhile."

ROUTES: tuple[Route, ...] = (
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
)

TAGS: tuple[Schema, ...] = (
    {"name": "recurring", "description": "Recurring tasks: templates whose occurrences are created as tasks."},
)

RESOURCE = Resource(
    routes=ROUTES, tags=TAGS, schemas=SCHEMAS, parameters=PARAMETERS, headers=HEADERS,
    path_parameters={"template_id": "RecurringTaskId"}, owned_ids=("template_id",),
    creates={"createRecurringTask": "template_id"},
)
