"""Export and import: the export document, the import report and their routes."""

from __future__ import annotations

from db.transfer import CSV_COLUMNS, FORMAT, VERSION

from ..views.transfer import FORMATS
from .schema import (
    JSON,
    TIMESTAMP,
    USER_ID,
    choice,
    Resource,
    Route,
    Schema,
    closed_object,
    nullable,
    query,
    ref,
    response,
)

CSV = "text/csv"
KINDS = ("task", "recurring_task", "reminder", "saved_view", "notification_settings", "row")

SCHEMAS: dict[str, Schema] = {
    "ExportDocument": {
        "type": "object",
        "properties": {
            "format": {"const": FORMAT},
            "version": {"const": VERSION},
            "exported_at": TIMESTAMP,
            "user_id": USER_ID,
            "tasks": {"type": "array", "items": ref("Task"), "description": "Oldest first."},
            "recurring_tasks": {"type": "array", "items": ref("RecurringTask")},
            "reminders": {"type": "array", "items": ref("Reminder")},
            "saved_views": {"type": "array", "items": ref("SavedView")},
            "notification_settings": closed_object({"email": nullable({"type": "string"})}),
        },
        "required": ["format", "version"],
        "additionalProperties": False,
        "description": "Everything one user keeps, as POST /api/import reads it back.",
    },
    "ImportDocument": {
        "type": "object",
        "properties": {
            "format": {"const": FORMAT},
            "version": {"const": VERSION},
            "exported_at": {"description": "Not read."},
            "user_id": {"description": "Not read: the import goes into the caller's account."},
            **{section: {"type": "array", "description": f"As in the export ({schema}); an entry that is not "
                         "valid is skipped and reported with its reason, the rest is imported."}
               for section, schema in (("tasks", "Task"), ("recurring_tasks", "RecurringTask"),
                                       ("reminders", "Reminder"), ("saved_views", "SavedView"))},
            "notification_settings": {"description": "As in the export; an invalid one is skipped and reported."},
        },
        "required": ["format", "version"],
        "additionalProperties": False,
        "description": "A document from GET /api/export (of any account; ids and times are the exporting "
        "account's, and what the import creates gets new ones).",
    },
    "ImportReport": closed_object(
        {
            "created": closed_object(
                {name: {"type": "integer", "minimum": 0} for name in
                 ("tasks", "recurring_tasks", "reminders", "saved_views", "notification_settings")},
                required=("tasks", "recurring_tasks", "reminders", "saved_views", "notification_settings"),
            ),
            "skipped": {
                "type": "array",
                "description": "What was not created, and why: already there (a re-import), not mappable, or invalid.",
                "items": {
                    "type": "object",
                    "properties": {
                        "line": {"type": "integer", "description": "The CSV line the row starts on."},
                        "id": {"type": "string", "description": "The entry's id in the JSON document."},
                        "index": {"type": "integer", "description": "The entry's position when it has no id."},
                        "kind": {"enum": list(KINDS)},
                        "reason": {"type": "string"},
                    },
                    "required": ["kind", "reason"],
                    "additionalProperties": False,
                },
            },
        },
        required=("created", "skipped"),
    ),
}

PARAMETERS: dict[str, Schema] = {
    "ExportFormat": query("format", {**choice(*FORMATS), "default": "json"},
                          "`json`: the whole account as one document; `csv`: the tasks only."),
}

ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/api/export", "exportData", "Export your data",
        {200: {
            "description": "A download (Content-Disposition: attachment).",
            "headers": {"X-Request-ID": ref("RequestId", "headers")},
            "content": {
                JSON: {"schema": ref("ExportDocument")},
                CSV: {"schema": {"type": "string"},
                      "example": ",".join(CSV_COLUMNS) + "\r\n"},
            },
        }},
        tag="transfer",
        description="Your tasks, recurring tasks, reminders, saved views and reminder address as one versioned "
        f"JSON document; with `format=csv` your tasks as CSV (columns {', '.join(CSV_COLUMNS)}; tags "
        "comma-separated; a cell that starts with = + - @ gets a leading ' so spreadsheets do not run it).",
        query=("ExportFormat",),
    ),
    Route(
        "post", "/api/import", "importData", "Import tasks",
        {200: response("What was created, and what was skipped with the reason.", ref("ImportReport"))},
        tag="transfer",
        description="Content-Type decides the format. `application/json`: a document from GET /api/export (of "
        "any account). `text/csv`: a Todoist CSV export; each task row becomes a task: PRIORITY 1 (p1) is HIGH, "
        "2 MEDIUM, 3 and 4 LOW; `@label`s in CONTENT become tags; DATE maps when it is an absolute date "
        "(`2026-12-11`, `2026-12-11 10:00`, `Dec 11` = the next Dec 11) in TIMEZONE (default UTC), or a repeat "
        "(`every day`, `every 2 weeks`, `every monday, friday`, `every weekday`, `every 15th`, `every!` from "
        "completion, optional `at 10:00`) which becomes a recurring task starting today. Rows that do not "
        "map (relative dates such as `tomorrow`, sections, comments) are reported in `skipped` with the "
        "reason. Importing the same file again creates nothing: each task gets an id derived from its source "
        "(its id in the document, or the Todoist row's content), and recurring tasks and saved views are "
        "matched by title and rule, and by name. An imported reminder address is unconfirmed until you "
        "confirm it. Everything is created in one transaction, and each task through the normal write path "
        "(audit trail, live updates). The body is limited to 1 MiB (413): larger imports go through the "
        "`taskstream import` command.",
        body="ImportDocument", other_bodies={CSV: {"type": "string", "description": "A Todoist CSV export."}},
    ),
)

TAGS: tuple[Schema, ...] = (
    {"name": "transfer", "description": "Export your data, and import it (or a Todoist export) into an account."},
)

RESOURCE = Resource(routes=ROUTES, tags=TAGS, schemas=SCHEMAS, parameters=PARAMETERS)
