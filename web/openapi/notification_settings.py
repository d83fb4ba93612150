"""Notification settings: where reminder emails go."""

from __future__ import annotations

from .schema import NULLABLE_TIMESTAMP, Resource, Route, Schema, closed_object, described, nullable, ref, response

SCHEMAS: dict[str, Schema] = {
    "NotificationSettings": closed_object({
        "email": described(nullable({"type": "string", "format": "email"}),
                           "Where reminder emails go (only when the server has SMTP_URL); null: none."),
        "updated_at": NULLABLE_TIMESTAMP,
    }, required=("email", "updated_at")),
    "NotificationSettingsUpdate": closed_object({"email": nullable({"type": "string", "maxLength": 254})},
                                                required=("email",)),
}

ROUTES: tuple[Route, ...] = (
    Route("get", "/api/notification-settings", "getNotificationSettings", "Read your notification settings",
          {200: response("Your settings.", ref("NotificationSettings"))}, tag="notifications", errors=(400,)),
    Route("put", "/api/notification-settings", "putNotificationSettings", "Set where reminder emails go",
          {200: response("Your settings.", ref("NotificationSettings"))}, tag="notifications",
          body="NotificationSettingsUpdate"),
)

RESOURCE = Resource(routes=ROUTES, schemas=SCHEMAS)
