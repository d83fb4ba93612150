"""In-app notification routes: the inbox, marking read, and snoozing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from db import notifications as queries
from streams.app import app

from ..errors import ValidationError, not_found
from ..validation import fields as v
from .base import ApiView

SNOOZE_MIN, SNOOZE_MAX = 1, 1440


def snooze_minutes(body: Any) -> int:
    body = v.require_object(body)
    v.reject_unknown(body, ("minutes",))
    minutes = body.get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not SNOOZE_MIN <= minutes <= SNOOZE_MAX:
        raise ValidationError("minutes", f"must be a whole number of minutes from {SNOOZE_MIN} to {SNOOZE_MAX}, "
                                         f"got {minutes!r}")
    return minutes


@app.page("/api/notifications")
class NotificationCollection(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        query = request.query
        v.reject_unknown_params(query, ("unread", "limit"))
        unread = v.bool_param(query, "unread")
        limit = v.int_param(query, "limit", 50, minimum=1, maximum=200)
        async with self.autocommit() as session:
            rows = await queries.list_notifications(
                session, self.user_id(request), unread=unread, limit=limit, now=self.clock()
            )
        return self.respond({"notifications": [queries.notification_json(r) for r in rows], "limit": limit})


@app.page("/api/notifications/read-all")
class NotificationsReadAll(ApiView):
    async def post(self, request: web.Request) -> web.Response:
        async with self.autocommit() as session:
            count = await queries.mark_all_read(session, self.user_id(request), now=self.clock())
        return self.respond({"marked_read": count})


@app.page("/api/notifications/{notification_id}/read")
class NotificationRead(ApiView):
    async def post(self, request: web.Request, notification_id: str) -> web.Response:
        ident = self.task_uuid(notification_id, "notification")
        async with self.autocommit() as session:
            row = await queries.mark_read(session, self.user_id(request), ident, now=self.clock())
        if row is None:
            raise not_found("notification", ident)
        return self.respond(queries.notification_json(row))


@app.page("/api/notifications/{notification_id}/snooze")
class NotificationSnooze(ApiView):
    async def post(self, request: web.Request, notification_id: str) -> web.Response:
        ident = self.task_uuid(notification_id, "notification")
        minutes = snooze_minutes(await self.body(request))
        async with self.autocommit() as session:
            row = await queries.snooze(
                session, self.user_id(request), ident, until=self.clock() + timedelta(minutes=minutes)
            )
        if row is None:
            raise not_found("notification", ident)
        return self.respond(queries.notification_json(row))
