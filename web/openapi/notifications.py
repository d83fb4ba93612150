"""The in-app inbox: notifications, read and snoozed."""

from __future__ import annotations

from ..views.notifications import SNOOZE_MAX, SNOOZE_MIN
from .schema import (
    NULLABLE_TIMESTAMP,
    TIMESTAMP,
    UUID,
    Resource,
    Route,
    Schema,
    closed_object,
    not_found_rule,
    nullable,
    query_bool,
    ref,
    response,
)

PARAMETERS: dict[str, Schema] = {
    "NotificationId": {
        "name": "notification_id", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The notification's id (a UUID). " + not_found_rule("A notification"),
    },
    "Unread": query_bool("unread", "true: only unread notifications that are not snoozed; false: the others."),
}

SCHEMAS: dict[str, Schema] = {
    "Notification": closed_object({
        "id": UUID, "kind": {"type": "string", "examples": ["reminder"]}, "title": {"type": "string"},
        "body": {"type": "string"},
        "data": {"type": "object", "description": "For reminders: reminder_ids, task_ids, remind_at."},
        "reminder_id": nullable(UUID), "read": {"type": "boolean"}, "read_at": NULLABLE_TIMESTAMP,
        "snoozed_until": NULLABLE_TIMESTAMP, "created_at": TIMESTAMP,
    }, required=("id", "kind", "title", "body", "data", "reminder_id", "read", "read_at", "snoozed_until",
                 "created_at")),
    "NotificationList": closed_object({"notifications": {"type": "array", "items": ref("Notification")},
                                       "limit": {"type": "integer"}}, required=("notifications", "limit")),
    "Snooze": closed_object({"minutes": {"type": "integer", "minimum": SNOOZE_MIN, "maximum": SNOOZE_MAX}},
                            required=("minutes",)),
    "ReadAll": closed_object({"marked_read": {"type": "integer", "minimum": 0}}, required=("marked_read",)),
}

ROUTES: tuple[Route, ...] = (
    Route("get", "/api/notifications", "listNotifications", "Your notifications",
          {200: response("Newest first.", ref("NotificationList"))}, tag="notifications",
          query=("Unread", "PageLimit")),
    Route("post", "/api/notifications/{notification_id}/read", "readNotification", "Mark a notification read",
          {200: response("The notification.", ref("Notification"))}, tag="notifications"),
    Route("post", "/api/notifications/read-all", "readAllNotifications", "Mark every notification read",
          {200: response("How many were marked read. One snoozed into the future is hidden, so it is left "
                         "unread.", ref("ReadAll"))}, tag="notifications"),
    Route("post", "/api/notifications/{notification_id}/snooze", "snoozeNotification", "Snooze a notification",
          {200: response("The notification, unread and hidden until snoozed_until.", ref("Notification"))},
          tag="notifications", body="Snooze"),
)

TAGS: tuple[Schema, ...] = (
    {"name": "notifications", "description": "The in-app inbox reminders fill, and where else they go."},
)

RESOURCE = Resource(
    routes=ROUTES, tags=TAGS, schemas=SCHEMAS, parameters=PARAMETERS,
    path_parameters={"notification_id": "NotificationId"}, owned_ids=("notification_id",),
)
