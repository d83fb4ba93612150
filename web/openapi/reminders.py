"""Reminders on tasks: their schemas, parameters and routes."""

from __future__ import annotations

from .schema import (
    NULLABLE_TIMESTAMP,
    TIMESTAMP,
    UUID,
    Resource,
    Route,
    Schema,
    closed_object,
    described,
    not_found_rule,
    nullable,
    query_bool,
    ref,
    response,
)

ISO_DURATION = r"^[Pp](?=.)(?:\d+[Ww])?(?:\d+[Dd])?(?:[Tt](?=\d)(?:\d+[Hh])?(?:\d+[Mm])?(?:\d+[Ss])?)?$"

PARAMETERS: dict[str, Schema] = {
    "ReminderId": {
        "name": "reminder_id", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The reminder's id (a UUID). " + not_found_rule("A reminder"),
    },
    "Upcoming": query_bool("upcoming", "true: only reminders not sent yet."),
}

SCHEMAS: dict[str, Schema] = {
    "Reminder": closed_object({
        "id": UUID, "task_id": UUID, "remind_at": TIMESTAMP,
        "before_due": described(nullable({"type": "string", "pattern": ISO_DURATION}),
                                "The ISO-8601 duration before the due date (canonical form); null when absolute."),
        "sent": {"type": "boolean"}, "sent_at": NULLABLE_TIMESTAMP, "created_at": TIMESTAMP,
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
}

ROUTES: tuple[Route, ...] = (
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
)

TAGS: tuple[Schema, ...] = (
    {"name": "reminders", "description": "Reminders on tasks: at a time, or before the due date."},
)

RESOURCE = Resource(
    routes=ROUTES, tags=TAGS, schemas=SCHEMAS, parameters=PARAMETERS,
    path_parameters={"reminder_id": "ReminderId"}, owned_ids=("reminder_id",),
    creates={"createReminder": "reminder_id"},
)
