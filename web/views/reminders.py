"""Reminder routes: add, list and remove a task's reminders; the user's upcoming reminders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from db import reminders as queries
from streams.app import app
from streams.rules.reminders import DurationError, parse_duration

from ..errors import ValidationError, not_found
from ..validation import fields as v
from .base import ApiView

REMINDER_FIELDS = ("remind_at", "before_due")


def reminder_body(body: Any) -> tuple[datetime | None, timedelta | None]:
    """{"remind_at": ISO-8601 with offset} or {"before_due": ISO-8601 duration}: exactly one of them."""
    body = v.require_object(body)
    v.reject_unknown(body, REMINDER_FIELDS)
    # A field sent as null counts as sent (and is refused below): the document types both as strings.
    given = [name for name in REMINDER_FIELDS if name in body]
    if len(given) != 1:
        raise ValidationError(
            "remind_at", "send exactly one of remind_at (a date-time with an offset) or before_due "
            "(an ISO-8601 duration such as PT1H)", given=given,
        )
    if given == ["remind_at"]:
        return v.timestamp(body["remind_at"], "remind_at"), None
    if not isinstance(body["before_due"], str):
        raise ValidationError("before_due", "must be an ISO-8601 duration string such as PT1H or P1D")
    try:
        return None, parse_duration(body["before_due"])
    except DurationError as exc:
        raise ValidationError("before_due", str(exc)) from None


@app.page("/api/tasks/{task_id}/reminders")
class TaskReminders(ApiView):
    async def get(self, request: web.Request, task_id: str) -> web.Response:
        ident = self.task_uuid(task_id)
        v.reject_unknown_params(request.query, ())
        async with self.autocommit() as session:
            reminders = await queries.task_reminders(session, self.user_id(request), ident)
        if reminders is None:
            raise not_found("task", ident)
        return self.respond({"reminders": [queries.reminder_json(r) for r in reminders]})

    async def post(self, request: web.Request, task_id: str) -> web.Response:
        ident = self.task_uuid(task_id)
        remind_at, before_due = reminder_body(await self.body(request))
        async with self.transaction() as session:
            now = self.clock()
            reminder = await queries.create_reminder(
                session, self.user_id(request), ident, remind_at=remind_at, before_due=before_due, now=now,
            )
            scheduled = await queries.schedule_change(
                session, self.user_id(request), ident, reason="reminder.created", now=now,
            )
        self.published([scheduled])
        return self.respond(
            queries.reminder_json(reminder), status=201, headers={"Location": f"/api/reminders/{reminder.id}"}
        )


@app.page("/api/reminders")
class UserReminders(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        query = request.query
        v.reject_unknown_params(query, ("upcoming", "limit"))
        upcoming = v.bool_param(query, "upcoming")
        limit = v.int_param(query, "limit", 50, minimum=1, maximum=200)
        async with self.autocommit() as session:
            reminders = await queries.user_reminders(
                session, self.user_id(request), upcoming=bool(upcoming), limit=limit
            )
        return self.respond({"reminders": [queries.reminder_json(r) for r in reminders], "limit": limit})


@app.page("/api/reminders/{reminder_id}")
class ReminderItem(ApiView):
    async def delete(self, request: web.Request, reminder_id: str) -> web.Response:
        ident = self.task_uuid(reminder_id, "reminder")
        async with self.transaction() as session:
            task_id = await queries.delete_reminder(session, self.user_id(request), ident)
            if task_id is None:
                raise not_found("reminder", ident)
            scheduled = await queries.schedule_change(
                session, self.user_id(request), task_id, reason="reminder.deleted", now=self.clock(),
            )
        self.published([scheduled])
        return self.no_content()
