"""The audit trail: a task's changes, page by page."""

from __future__ import annotations

from db.models import EVENT_TYPES

from .schema import (
    TIMESTAMP,
    USER_ID,
    UUID,
    Resource,
    Route,
    Schema,
    closed_object,
    described,
    nullable,
    query_int,
    ref,
    response,
)

SCHEMAS: dict[str, Schema] = {
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
}

PARAMETERS: dict[str, Schema] = {
    "AuditLimit": query_int("limit", default=50, minimum=1, maximum=200, description="Page size."),
    "Cursor": {
        "name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
        "description": "The `next_cursor` of the previous page, unchanged; left out for the first page.",
    },
}

ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/api/audit/tasks/{task_id}", "getTaskAudit", "Read a task's audit trail",
        {200: response("One page of events, oldest first.", ref("AuditPage"))},
        tag="audit",
        description="Every change to the task, oldest first, still readable after the task is deleted. "
        "404 when you have no events for that id. Unknown query parameters are rejected (400).",
        query=("AuditLimit", "Cursor"),
    ),
)

TAGS: tuple[Schema, ...] = (
    {"name": "audit", "description": "What happened to a task, change by change."},
)

RESOURCE = Resource(routes=ROUTES, tags=TAGS, schemas=SCHEMAS, parameters=PARAMETERS)
