"""Quick add: POST /api/tasks/quick-add reads one line of text into a task (with its reminder) or a recurring series.

The route is a plain path beside /api/tasks/{task_id}; aiohttp (3.10 and later) resolves a request by walking
its path from the longest prefix down, so the plain /api/tasks/quick-add is found before the {task_id} route
whatever order autodiscovery registers them in (tests/integration/test_quick_add_api.py checks it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from db import recurring as recurring_queries
from db import reminders as reminder_queries
from db import tasks as task_queries
from db import user_settings
from db.engine import driver_connection
from db.events import PendingEvent
from db.tasks import TaskRow
from db.serialize import task_snapshot
from streams.app import app
from streams.rules import natural_dates
from streams.rules.quick_add import MAX_TEXT, QuickAdd, QuickAddError, parse_quick_add
from streams.rules.reminders import format_duration

from ..errors import ValidationError
from ..validation import fields as v
from ..validation import recurring as rv
from .base import ApiView
from .recurring import published_occurrences

BODY_FIELDS = ("text", "time_zone")
EXAMPLE = "Pay rent every month on the last day #home !high"


async def create_task(session, user_id: str, fields: dict[str, Any], *, now: datetime) -> tuple[TaskRow, PendingEvent]:
    """The one call that creates a quick-added task: the same db function POST /api/tasks uses, on the
    session's connection and in its transaction (the reminder follows in the same one)."""
    return await task_queries.create_task(await driver_connection(session), user_id, fields, now=now)


def requested_zone(body: dict[str, Any]) -> ZoneInfo | None:
    name = body.get("time_zone")
    if name is None:
        return None
    # "localtime" is whatever the server is set to: not a zone a user can mean.
    if not isinstance(name, str) or not name.strip() or name.strip() == "localtime":
        raise ValidationError("time_zone", "must be an IANA time zone name such as Europe/Berlin or UTC")
    try:
        return natural_dates.zone(name.strip())
    except natural_dates.TimeZoneError as exc:
        raise ValidationError("time_zone", str(exc)) from None


def line(body: dict[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str):
        raise ValidationError("text", f'is required: one line such as "{EXAMPLE}"')
    if len(text) > MAX_TEXT:
        raise ValidationError("text", f"is longer than {MAX_TEXT} characters")
    return text


def task_fields(parsed: QuickAdd) -> dict[str, Any]:
    """The POST /api/tasks body the line stands for, through that route's own validation."""
    body: dict[str, Any] = {"title": parsed.title}
    if parsed.due_date is not None:
        # An all-day task sends its date alone ("2026-12-11"): the task API decides how it stores one.
        body["due_date"] = parsed.due_date
    if parsed.tags:
        body["tags"] = list(parsed.tags)
    if parsed.priority is not None:
        body["priority"] = parsed.priority
    return user_settings.stored_due(v.task_create(body), parsed_zone(parsed))


def parsed_zone(parsed: QuickAdd) -> ZoneInfo:
    return ZoneInfo(parsed.time_zone)


def template_body(parsed: QuickAdd) -> dict[str, Any]:
    """The POST /api/recurring-tasks body the line stands for."""
    assert parsed.recurrence is not None
    body: dict[str, Any] = {"title": parsed.title, **parsed.recurrence}
    if parsed.tags:
        body["tags"] = list(parsed.tags)
    if parsed.priority is not None:
        body["priority"] = parsed.priority
    if parsed.remind_before is not None:
        body["reminders"] = [format_duration(parsed.remind_before)]
    return body


@app.page("/api/tasks/quick-add")
class QuickAddView(ApiView):
    async def post(self, request: web.Request) -> web.Response:
        v.reject_unknown_params(request.query, ("dry_run",))
        dry_run = bool(v.bool_param(request.query, "dry_run"))
        body = v.require_object(await self.body(request))
        v.reject_unknown(body, BODY_FIELDS)
        text = line(body)
        user_id = self.user_id(request)
        tz = requested_zone(body)
        if tz is None:  # the zone the user saved (PUT /api/settings), UTC until then
            async with self.connection() as conn:
                tz = await user_settings.time_zone(conn, user_id)
        now = self.clock()
        try:
            parsed = parse_quick_add(text, now, tz)
        except QuickAddError as exc:
            raise ValidationError("text", exc.message, part=exc.part) from None
        answer: dict[str, Any] = {"kind": parsed.kind, "understood": parsed.understood(), "summary": parsed.summary()}
        if parsed.kind == "recurring":
            fields, rule = rv.template_create(template_body(parsed))
            if dry_run:
                return self.respond(answer)
            async with self.transaction() as session:
                template, event = await recurring_queries.create_template(session, user_id, fields, rule, now=now)
            published_occurrences(self, [event])
            answer["recurring_task"] = recurring_queries.template_json(template)
            return self.respond(answer, status=201, headers={"Location": f"/api/recurring-tasks/{template.id}"})

        fields = task_fields(parsed)
        if dry_run:
            return self.respond(answer)
        async with self.transaction() as session:
            task, event = await create_task(session, user_id, fields, now=now)
            pending = [event]
            if parsed.remind_before is not None:
                await reminder_queries.create_reminder(
                    session, user_id, task.id, remind_at=None, before_due=parsed.remind_before, now=now,
                )
                pending.append(await reminder_queries.schedule_change(
                    session, user_id, task.id, reason="reminder.created", now=now,
                ))
        self.published(pending)
        answer["task"] = task_snapshot(task)
        return self.respond(answer, status=201, headers={"Location": f"/api/tasks/{task.id}"})
