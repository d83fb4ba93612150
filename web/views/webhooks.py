"""Webhook routes: subscribe a URL to task.* / reminder.* events, list, remove, read the delivery log."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from db import webhooks as queries
from streams.app import app
from streams.rules.webhooks import PatternError, UrlError, check_host, parse_patterns, parse_url
from streams.settings import get_settings

from ..errors import ApiError, ValidationError, not_found
from ..validation import fields as v
from .base import ApiView

SECRET_MIN, SECRET_MAX = 16, 255


def webhook_body(body: Any, *, allow_private: bool = False) -> tuple[str, list[str], str]:
    """{"url", "events", "secret"?}; without a secret one is generated (and shown once)."""
    body = v.require_object(body)
    v.reject_unknown(body, ("url", "events", "secret"))
    if "url" not in body:
        raise ValidationError("url", "is required")
    try:
        url = parse_url(body["url"])
        if not allow_private:
            check_host(url)
    except UrlError as exc:
        raise ValidationError("url", str(exc)) from None
    try:
        events = parse_patterns(body.get("events"))
    except PatternError as exc:
        raise ValidationError("events", str(exc)) from None
    secret = body.get("secret")
    if secret is None:
        secret = secrets.token_urlsafe(32)
    elif not isinstance(secret, str) or not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise ValidationError("secret", f"must be a string of {SECRET_MIN}-{SECRET_MAX} characters")
    return url, events, secret


@app.page("/api/webhooks")
class WebhookCollection(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        v.reject_unknown_params(request.query, ())
        async with self.autocommit() as session:
            hooks = await queries.list_webhooks(session, self.user_id(request))
        return self.respond({"webhooks": [queries.webhook_json(h) for h in hooks]})

    async def post(self, request: web.Request) -> web.Response:
        url, events, secret = webhook_body(await self.body(request),
                                           allow_private=get_settings().webhook_allow_private)
        async with self.transaction() as session:
            hook = await queries.create_webhook(
                session, self.user_id(request), url=url, events=events, secret=secret, now=self.clock()
            )
        return self.respond(queries.webhook_json(hook, with_secret=True), status=201,
                            headers={"Location": f"/api/webhooks/{hook.id}"})


@app.page("/api/webhooks/{webhook_id}")
class WebhookItem(ApiView):
    async def get(self, request: web.Request, webhook_id: str) -> web.Response:
        ident = self.task_uuid(webhook_id, "webhook")
        async with self.autocommit() as session:
            hook = await queries.get_webhook(session, self.user_id(request), ident)
        if hook is None:
            raise not_found("webhook", ident)
        return self.respond(queries.webhook_json(hook))

    async def delete(self, request: web.Request, webhook_id: str) -> web.Response:
        ident = self.task_uuid(webhook_id, "webhook")
        async with self.autocommit() as session:
            deleted = await queries.delete_webhook(session, self.user_id(request), ident)
        if not deleted:
            raise not_found("webhook", ident)
        return self.no_content()


@app.page("/api/webhooks/{webhook_id}/enable")
class WebhookEnable(ApiView):
    async def post(self, request: web.Request, webhook_id: str) -> web.Response:
        ident = self.task_uuid(webhook_id, "webhook")
        async with self.transaction() as session:
            hook = await queries.get_webhook(session, self.user_id(request), ident)
            if hook is None:
                raise not_found("webhook", ident)
            if not get_settings().webhook_allow_private:
                try:
                    check_host(hook.url)
                except UrlError as exc:
                    raise ApiError(409, "conflict", f"its url {exc}; subscribe a public URL instead",
                                   {"field": "url"}) from None
            hook = await queries.enable_webhook(session, self.user_id(request), ident)
        return self.respond(queries.webhook_json(hook))


@app.page("/api/webhooks/{webhook_id}/deliveries")
class WebhookDeliveries(ApiView):
    async def get(self, request: web.Request, webhook_id: str) -> web.Response:
        ident = self.task_uuid(webhook_id, "webhook")
        v.reject_unknown_params(request.query, ("limit",))
        limit = v.int_param(request.query, "limit", 50, minimum=1, maximum=200)
        async with self.autocommit() as session:
            hook = await queries.get_webhook(session, self.user_id(request), ident)
            if hook is None:
                raise not_found("webhook", ident)
            rows = await queries.deliveries(session, ident, limit=limit)
        return self.respond({"webhook_id": str(ident), "deliveries": [queries.delivery_json(r) for r in rows],
                             "limit": limit})
