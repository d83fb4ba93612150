"""Notification settings: the address reminder emails go to, confirmed by a link mailed to it first."""

from __future__ import annotations

import html
import math
import re
import secrets

from aiohttp import web

from db import email as queries
from streams.app import app
from streams.rules.email import render_confirmation, valid_address
from streams.settings import get_settings

from .. import proxies
from ..errors import ApiError, ValidationError
from ..validation import fields as v
from .base import ApiView

#: Where the link in a confirmation email leads; outside /api, since a mail client sends no bearer token.
CONFIRM_PATH = "/confirm-email"
#: What a confirmation token looks like (secrets.token_urlsafe(32)); anything else cannot be one.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def new_token() -> str | None:
    """A confirmation token, or None when no email can be sent (no SMTP_URL)."""
    return secrets.token_urlsafe(32) if get_settings().smtp_url else None


async def queue_link(session, request: web.Request, user_id: str, address: str, token: str) -> None:
    origin = proxies.public_origin(request.remote, request.headers, get_settings().trusted_proxies,
                                   scheme=request.scheme, host=request.host)
    subject, text, page = render_confirmation(
        address, f"{origin}{CONFIRM_PATH}?token={token}",
        valid_hours=int(queries.CONFIRMATION_VALID.total_seconds() // 3600),
    )
    await queries.queue_confirmation(session, user_id, to_address=address, subject=subject, text_body=text,
                                     html_body=page)


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
        email = email.strip() if email else None
        user_id, token = self.user_id(request), new_token()
        async with self.transaction() as session:
            settings, send = await queries.put_settings(session, user_id, email=email, now=self.clock(), token=token)
            if send:
                await queue_link(session, request, user_id, email, token)
        return self.respond(settings)


@app.page("/api/notification-settings/resend-confirmation")
class ResendConfirmation(ApiView):
    async def post(self, request: web.Request) -> web.Response:
        """Mail a new confirmation link for the caller's unconfirmed address (the previous link stops working)."""
        user_id, token, now = self.user_id(request), new_token(), self.clock()
        if token is None:
            raise ApiError(409, "conflict", "this server sends no email (no SMTP_URL), so there is nothing to confirm")
        async with self.transaction() as session:
            address, wait_until = await queries.resend_token(session, user_id, now=now, token=token)
            if address is None:
                raise ApiError(409, "conflict", "you have no unconfirmed address; set one with "
                                                "PUT /api/notification-settings")
            if wait_until is not None:
                seconds = max(1, math.ceil((wait_until - now).total_seconds()))
                raise ApiError(429, "rate_limited", f"a confirmation link was sent moments ago; ask again in "
                                                    f"{seconds} s", headers={"Retry-After": str(seconds)})
            await queue_link(session, request, user_id, address, token)
            settings = await queries.get_settings(session, user_id)
        return self.respond(settings, status=202)


@app.page(CONFIRM_PATH)
class ConfirmEmail(ApiView):
    """The link in a confirmation email: the token in it is the credential, since a mail client sends no header."""

    async def get(self, request: web.Request) -> web.Response:
        v.reject_unknown_params(request.query, ("token",))
        token = request.query.get("token", "")
        user_id = None
        if TOKEN.match(token):
            async with self.autocommit() as session:  # one statement
                user_id = await queries.confirm(session, token, now=self.clock())
        if user_id is None:
            # The same answer for a malformed, wrong, used or expired token.
            raise ApiError(404, "not_found", "this confirmation link is wrong, used or expired; set your address "
                                             "again (PUT /api/notification-settings) to get a new link")
        async with self.autocommit() as session:
            address = (await queries.get_settings(session, user_id))["email"] or ""
        return web.Response(
            text="<!doctype html><html><head><title>Address confirmed</title></head><body>"
                 f"<p>Confirmed: taskstream reminders now go to {html.escape(address)}.</p></body></html>",
            content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"},
        )
