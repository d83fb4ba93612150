"""Webhooks: subscriptions to task.* and reminder.* events, and their delivery log."""

from __future__ import annotations

from streams.rules import webhooks as hooks

from ..views.webhooks import SECRET_MAX, SECRET_MIN
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
    ref,
    response,
)

PARAMETERS: dict[str, Schema] = {
    "WebhookId": {
        "name": "webhook_id", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The webhook's id (a UUID). " + not_found_rule("A webhook"),
    },
}

SCHEMAS: dict[str, Schema] = {
    "WebhookCreate": closed_object({
        "url": {"type": "string", "pattern": "^https?://", "maxLength": 2000,
                "description": "http:// or https://, without credentials."},
        "events": {"type": "array", "minItems": 1,
                   "items": {"type": "string", "enum": ["*", "task.*", "reminder.*", *hooks.EVENT_TYPES]}},
        "secret": {"type": "string", "minLength": SECRET_MIN, "maxLength": SECRET_MAX,
                   "description": "HMAC key for X-Taskstream-Signature; generated when left out."},
    }, required=("url", "events")),
    "Webhook": closed_object({
        "id": UUID, "url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string"}},
        "active": {"type": "boolean"}, "consecutive_failures": {"type": "integer", "minimum": 0},
        "disabled_at": NULLABLE_TIMESTAMP, "disabled_reason": nullable({"type": "string"}), "created_at": TIMESTAMP,
        "secret": {"type": "string", "description": "Only in the answer to POST /api/webhooks."},
    }, required=("id", "url", "events", "active", "consecutive_failures", "disabled_at", "disabled_reason",
                 "created_at")),
    "WebhookList": closed_object({"webhooks": {"type": "array", "items": ref("Webhook")}}, required=("webhooks",)),
    "WebhookDeliveryPage": closed_object({
        "webhook_id": UUID, "limit": {"type": "integer"},
        "deliveries": {"type": "array", "items": closed_object({
            "id": UUID, "event_id": {"type": "string"}, "event_type": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
            "attempts": {"type": "integer"}, "next_attempt_at": NULLABLE_TIMESTAMP,
            "last_status_code": nullable({"type": "integer"}), "last_error": nullable({"type": "string"}),
            "created_at": TIMESTAMP, "delivered_at": NULLABLE_TIMESTAMP,
        })},
    }, required=("webhook_id", "deliveries", "limit")),
}

WEBHOOK_DELIVERY_NOTE = (
    "Each event is POSTed as JSON `{event_id, event, occurred_at, data, webhook_id, delivery_id}` with headers "
    "`X-Taskstream-Event`, `X-Taskstream-Delivery` (the same on every retry) and `X-Taskstream-Signature: "
    "sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`. Anything but a 2xx within 10 s is "
    f"retried with exponential backoff and jitter, up to {hooks.MAX_ATTEMPTS} attempts; after "
    f"{hooks.DISABLE_AFTER} failed attempts in a row the webhook is disabled."
)

ROUTES: tuple[Route, ...] = (
    Route("post", "/api/webhooks", "createWebhook", "Subscribe a URL to events",
          {201: response("The webhook, with its secret (shown only here).", ref("Webhook"), Location="Location")},
          tag="webhooks", description=WEBHOOK_DELIVERY_NOTE, body="WebhookCreate", errors=(409,)),
    Route("get", "/api/webhooks", "listWebhooks", "List your webhooks",
          {200: response("Your webhooks, without secrets.", ref("WebhookList"))}, tag="webhooks", errors=(400,)),
    Route("get", "/api/webhooks/{webhook_id}", "getWebhook", "Read a webhook",
          {200: response("The webhook, without its secret.", ref("Webhook"))}, tag="webhooks"),
    Route("delete", "/api/webhooks/{webhook_id}", "deleteWebhook", "Delete a webhook",
          {204: response("Deleted with its delivery log; no body.")}, tag="webhooks"),
    Route("post", "/api/webhooks/{webhook_id}/enable", "enableWebhook", "Turn a disabled webhook on again",
          {200: response("The webhook, active, with its failure count reset. Deliveries given up while it was "
                         "disabled are not sent again; it gets the events from now on.", ref("Webhook"))},
          tag="webhooks", errors=(409,)),
    Route("get", "/api/webhooks/{webhook_id}/deliveries", "listWebhookDeliveries", "Read a webhook's delivery log",
          {200: response("Newest first.", ref("WebhookDeliveryPage"))}, tag="webhooks", query=("PageLimit",)),
)

TAGS: tuple[Schema, ...] = (
    {"name": "webhooks", "description": "Your HTTP endpoints for task.* and reminder.* events, signed."},
)

RESOURCE = Resource(
    routes=ROUTES, tags=TAGS, schemas=SCHEMAS, parameters=PARAMETERS,
    path_parameters={"webhook_id": "WebhookId"}, owned_ids=("webhook_id",), creates={"createWebhook": "webhook_id"},
)
