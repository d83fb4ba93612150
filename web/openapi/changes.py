"""Polling sync: GET /api/changes and its page of client updates."""

from __future__ import annotations

from db.models import EVENT_TYPES

from ..validation import fields as v
from ..views.changes import DEFAULT_LIMIT, MAX_LIMIT
from .schema import TIMESTAMP, UUID, Resource, Route, Schema, closed_object, described, query_int, ref, response

SCHEMAS: dict[str, Schema] = {
    "TaskChange": closed_object(
        {
            "type": {"type": "string", "enum": [f"task.{kind}" for kind in EVENT_TYPES]},
            "seq": {"type": "integer", "minimum": 1, "description": "The user's gap-free sequence number."},
            "event_id": UUID,
            "task_id": UUID,
            "task": described(ref("Task"), "The task after the change; for task.deleted, the task as it was "
                                            "when deleted (a tombstone: drop it by task_id)."),
            "changes": {"type": "object", "additionalProperties": ref("Change"),
                        "description": "Every field that changed."},
            "occurred_at": TIMESTAMP,
        },
        required=("type", "seq", "event_id", "task_id", "task", "changes", "occurred_at"),
        description="One change, exactly as the WebSocket sends it (streams/schemas/task-update.json).",
    ),
    "ChangePage": closed_object(
        {
            "changes": {"type": "array", "items": ref("TaskChange"), "description": "Oldest first."},
            "seq": {"type": "integer", "minimum": 0,
                    "description": "Pass as `since` next time: the last change's sequence number here, or "
                    "`since` itself when there is nothing new."},
            "has_more": {"type": "boolean", "description": "More changes follow: ask again at once with `seq`."},
            "reset": {"type": "boolean",
                      "description": "true when `since` is above your latest sequence number (the server's data "
                      "was restored or reset): `seq` is the latest; reload your state (GET /api/tasks)."},
        },
        required=("changes", "seq", "has_more", "reset"),
    ),
}

PARAMETERS: dict[str, Schema] = {
    "ChangesSince": query_int("since", default=0, minimum=0, maximum=v.INT_MAX,
                              description="The `seq` of your previous answer (or of the last WebSocket update): "
                              "changes after it are returned. 0, or a number older than anything kept, returns "
                              "every change kept."),
    "ChangesLimit": query_int("limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT,
                              description="Most changes in one answer."),
}

ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/api/changes", "listChanges", "Changes since a sequence number",
        {200: response("The changes after `since`, oldest first.", ref("ChangePage"))},
        tag="live",
        description="Sync for clients without a WebSocket: the same changes, in the same order and shape, as "
        "a WebSocket opened with the same `since` replays. A deleted task comes as a `task.deleted` change. "
        "Poll with `since` = the previous answer's `seq`; while `has_more` is true, ask again at once.",
        query=("ChangesSince", "ChangesLimit"),
    ),
)

RESOURCE = Resource(routes=ROUTES, schemas=SCHEMAS, parameters=PARAMETERS)
