"""Recurring task routes: templates (create, list, read, edit, delete), pause/resume, occurrences."""

from __future__ import annotations

from aiohttp import web

from db import recurring as queries
from db.models import RecurringTask
from streams import metrics
from streams.app import app

from ..errors import not_found
from ..validation import fields as v
from ..validation import recurring as rv
from .base import ApiView

WHAT = queries.WHAT
UPCOMING_DEFAULT, UPCOMING_MAX = 5, 100
PAST_DEFAULT, PAST_MAX = 50, 500


def published_occurrences(view: ApiView, events: list) -> None:
    """After commit: each event is an occurrence the request created (the template's first, or the
    next one on resume or a revived rule); hand them to the relay and count them."""
    view.published(events)
    metrics.OCCURRENCES_CREATED.inc(len(events))


def template_response(view: ApiView, template: RecurringTask, *, status: int = 200) -> web.Response:
    return view.respond(queries.template_json(template), status=status, headers={"ETag": f'"{template.version}"'})


@app.page("/api/recurring-tasks")
class RecurringTaskCollection(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        query = request.query
        v.reject_unknown_params(query, ("status", "limit", "offset"))
        status = rv.status_param(query)
        limit = v.int_param(query, "limit", 20, minimum=1, maximum=100)
        offset = v.int_param(query, "offset", 0, minimum=0)
        async with self.autocommit() as session:
            templates, total = await queries.list_templates(
                session, self.user_id(request), status=status, limit=limit, offset=offset
            )
        return self.respond({
            "recurring_tasks": [queries.template_json(t) for t in templates],
            "total": total, "limit": limit, "offset": offset,
        })

    async def post(self, request: web.Request) -> web.Response:
        fields, rule = rv.template_create(await self.body(request))
        async with self.transaction() as session:
            template, event = await queries.create_template(
                session, self.user_id(request), fields, rule, now=self.clock()
            )
        published_occurrences(self, [event])
        response = template_response(self, template, status=201)
        response.headers["Location"] = f"/api/recurring-tasks/{template.id}"
        return response


@app.page("/api/recurring-tasks/{template_id}")
class RecurringTaskItem(ApiView):
    async def get(self, request: web.Request, template_id: str) -> web.Response:
        ident = self.task_uuid(template_id, WHAT)
        async with self.autocommit() as session:
            template = await queries.get_template(session, self.user_id(request), ident)
        if template is None:
            raise not_found(WHAT, ident)
        return template_response(self, template)

    async def patch(self, request: web.Request, template_id: str) -> web.Response:
        ident = self.task_uuid(template_id, WHAT)
        expected = v.if_match(request.headers.get("If-Match"))
        body = await self.body(request)
        user_id = self.user_id(request)
        async with self.transaction() as session:
            template, events = await queries.update_template(
                session, user_id, ident, lambda current: rv.template_update(body, current.rule),
                now=self.clock(), expected_version=expected,
            )
        published_occurrences(self, events)
        return template_response(self, template)

    async def delete(self, request: web.Request, template_id: str) -> web.Response:
        ident = self.task_uuid(template_id, WHAT)
        expected = v.if_match(request.headers.get("If-Match"))
        async with self.transaction() as session:
            events = await queries.delete_template(
                session, self.user_id(request), ident, now=self.clock(), expected_version=expected
            )
        self.published(events)
        return self.no_content()


@app.page("/api/recurring-tasks/{template_id}/pause")
class RecurringTaskPause(ApiView):
    async def post(self, request: web.Request, template_id: str) -> web.Response:
        ident = self.task_uuid(template_id, WHAT)
        expected = v.if_match(request.headers.get("If-Match"))
        async with self.transaction() as session:
            template = await queries.pause_template(
                session, self.user_id(request), ident, now=self.clock(), expected_version=expected
            )
        return template_response(self, template)


@app.page("/api/recurring-tasks/{template_id}/resume")
class RecurringTaskResume(ApiView):
    async def post(self, request: web.Request, template_id: str) -> web.Response:
        ident = self.task_uuid(template_id, WHAT)
        expected = v.if_match(request.headers.get("If-Match"))
        async with self.transaction() as session:
            template, events = await queries.resume_template(
                session, self.user_id(request), ident, now=self.clock(), expected_version=expected
            )
        published_occurrences(self, events)
        return template_response(self, template)


@app.page("/api/recurring-tasks/{template_id}/occurrences")
class RecurringTaskOccurrences(ApiView):
    async def get(self, request: web.Request, template_id: str) -> web.Response:
        ident = self.task_uuid(template_id, WHAT)
        query = request.query
        v.reject_unknown_params(query, ("upcoming", "past"))
        upcoming = v.int_param(query, "upcoming", UPCOMING_DEFAULT, minimum=0, maximum=UPCOMING_MAX)
        past = v.int_param(query, "past", PAST_DEFAULT, minimum=0, maximum=PAST_MAX)
        async with self.autocommit() as session:
            template = await queries.get_template(session, self.user_id(request), ident)
            if template is None:
                raise not_found(WHAT, ident)
            body = await queries.occurrences(session, template, upcoming=upcoming, past=past, now=self.clock())
        return self.respond({"recurring_task_id": str(ident), **body})
