"""iCalendar feed routes: the signed-in feed, the per-user secret feed URL, and rotating that secret."""

from __future__ import annotations

import re

from aiohttp import web

from db import calendar as queries
from db.recurring import template_rule
from db.serialize import iso
from streams.app import app
from streams.settings import get_settings

from .. import ical, proxies
from ..errors import ApiError
from ..validation import fields as v
from .base import ApiView

#: What rotate_token hands out (secrets.token_urlsafe(32)); anything else cannot be a feed secret.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
FEED_NAME = "taskstream"


async def feed_response(view: ApiView, user_id: str) -> web.Response:
    async with view.autocommit() as session:
        tasks, templates = await queries.feed_rows(session, user_id)
        taken = await queries.taken_slots(session, [t.id for t in templates])
    body = ical.feed(tasks, [(t, template_rule(t)) for t in templates], now=view.clock(), name=FEED_NAME,
                     taken=taken)
    return web.Response(
        body=body,
        content_type=ical.CONTENT_TYPE,
        charset="utf-8",
        headers={
            "Content-Disposition": f'inline; filename="{FEED_NAME}.ics"',
            # Personal data behind a secret: no shared caches.
            "Cache-Control": "private, no-cache",
        },
    )


def feed_not_found() -> ApiError:
    # The same answer for a malformed, revoked or never-issued secret.
    return ApiError(404, "not_found", "no calendar feed at this address; create one with POST /api/calendar/token")


@app.page("/api/calendar.ics")
class CalendarFeed(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        v.reject_unknown_params(request.query, ())
        return await feed_response(self, self.user_id(request))


@app.page("/calendar/{token}.ics")
class SecretCalendarFeed(ApiView):
    """The feed for calendar apps that cannot send an Authorization header: the URL is the credential."""

    async def get(self, request: web.Request, token: str) -> web.Response:
        if not TOKEN.match(token):
            raise feed_not_found()
        async with self.autocommit() as session:
            user_id = await queries.user_for_token(session, token)
        if user_id is None:
            raise feed_not_found()
        return await feed_response(self, user_id)


@app.page("/api/calendar/token")
class CalendarToken(ApiView):
    async def post(self, request: web.Request) -> web.Response:
        """A new secret feed URL; the previous URL stops working. The secret is shown only here."""
        now = self.clock()
        async with self.autocommit() as session:  # one statement
            token = await queries.rotate_token(session, self.user_id(request), now=now)
        path = f"/calendar/{token}.ics"
        origin = proxies.public_origin(request.remote, request.headers, get_settings().trusted_proxies,
                                       scheme=request.scheme, host=request.host)
        return self.respond({"url": f"{origin}{path}", "path": path, "created_at": iso(now)}, status=201)

    async def delete(self, request: web.Request) -> web.Response:
        async with self.autocommit() as session:
            revoked = await queries.revoke_token(session, self.user_id(request))
        if not revoked:
            raise ApiError(404, "not_found", "you have no calendar feed URL to revoke")
        return self.no_content()
