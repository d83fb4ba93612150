"""Notification settings: the address reminder emails go to (sent only when the server has SMTP_URL)."""

from __future__ import annotations

from aiohttp import web

from db import email as queries
from streams.app import app
from streams.rules.email import valid_address

from ..errors import ValidationError
from ..validation import fields as v
from .base import ApiView


@app.page("/api/notification-settings")
class NotificationSettingsView(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        v.reject_unknown_params(request.query, ())
        async with self.autocommit() as session:
            settings = await queries.get_settings(session, self.user_id(request))
        return self.respond(settings)

    async def put(self, request: web.Request) -> web.Response:
        body = v.require_object(await self.body(request))
        v.reject_unknown(body, ("email",))
        if "email" not in body:
            raise ValidationError("email", "is required (null stops reminder emails)")
        email = body["email"]
        if email is not None and (not isinstance(email, str) or not valid_address(email.strip())):
            raise ValidationError("email", f"must be an email address or null, got {email!r}")
        async with self.autocommit() as session:
            settings = await queries.put_settings(
                session, self.user_id(request), email=email.strip() if email else None, now=self.clock()
            )
        return self.respond(settings)
