"""Notification settings: where reminder emails go, and confirming that address by the link mailed to it."""

from __future__ import annotations

from .schema import NULLABLE_TIMESTAMP, Resource, Route, Schema, closed_object, described, nullable, ref, response

PARAMETERS: dict[str, Schema] = {
    "EmailConfirmationToken": {
        "name": "token", "in": "query", "required": True, "schema": {"type": "string"},
        "description": "The single-use token from the confirmation email (valid 24 hours).",
    },
}

SCHEMAS: dict[str, Schema] = {
    "NotificationSettings": closed_object({
        "email": described(nullable({"type": "string", "format": "email"}),
                           "Where reminder emails go (only when the server has SMTP_URL); null: none."),
        "email_confirmed": described({"type": "boolean"},
                                     "Whether the link mailed to `email` was followed; reminders are "
                                     "emailed only to a confirmed address."),
        "confirmation_sent_at": described(NULLABLE_TIMESTAMP, "When the last confirmation link was sent, while "
                                          "the address is unconfirmed; null otherwise, or when no email is sent "
                                          "(no SMTP_URL)."),
        "updated_at": NULLABLE_TIMESTAMP,
    }, required=("email", "email_confirmed", "confirmation_sent_at", "updated_at")),
    "NotificationSettingsUpdate": closed_object({"email": nullable({"type": "string", "maxLength": 254})},
                                                required=("email",)),
}

ROUTES: tuple[Route, ...] = (
    Route("get", "/api/notification-settings", "getNotificationSettings", "Read your notification settings",
          {200: response("Your settings.", ref("NotificationSettings"))}, tag="notifications", errors=(400,)),
    Route("put", "/api/notification-settings", "putNotificationSettings", "Set where reminder emails go",
          {200: response("Your settings.", ref("NotificationSettings"))}, tag="notifications",
          body="NotificationSettingsUpdate",
          description="A new address is unconfirmed: a link to confirm it is mailed to it (valid 24 hours), and "
          "reminders are emailed only once it is followed. Setting an unconfirmed address again mails a new link "
          "(the previous one stops working); setting the same confirmed address keeps it confirmed."),
    Route("post", "/api/notification-settings/resend-confirmation", "resendEmailConfirmation",
          "Mail a new confirmation link", {202: response("Sent; your settings.", ref("NotificationSettings"))},
          tag="notifications", errors=(409,),
          description="For your unconfirmed address; the previous link stops working. 409 when there is none "
          "(or the server sends no email); 429 with Retry-After within a minute of the last link."),
    Route("get", "/confirm-email", "confirmEmail", "Confirm a reminder address (the link in the email)",
          {200: {"description": "A short HTML page saying the address is confirmed.",
                 "content": {"text/html": {"schema": {"type": "string"}}},
                 "headers": {"X-Request-ID": ref("RequestId", "headers")}}},
          tag="notifications", query=("EmailConfirmationToken",), errors=(404, 503),
          description="No Authorization header: the single-use token in the link is the credential. A wrong, "
          "used or expired one answers 404; set the address again to get a new link."),
)

RESOURCE = Resource(routes=ROUTES, schemas=SCHEMAS, parameters=PARAMETERS)
