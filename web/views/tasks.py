"""Task routes: create, list, read, change, complete, tag and delete."""

from __future__ import annotations

import json
from typing import Any, Callable

from aiohttp import web

from db import tasks as queries
from db.listing import COUNT_CAP, unfiltered
from db.serialize import task_snapshot
from db.tasks import TaskRow
from db.user_settings import zone_name
from streams.app import app

from ..errors import not_found
from ..validation import fields as v
from ..validation.listing import parse_list
from .saved_views import with_saved_view
from .settings import needs_zone, resolve_due
from .base import ApiView



def task_response(view: ApiView, task: TaskRow, *, status: int = 200) -> web.Response:
    return view.respond(task_snapshot(task), status=status, headers={"ETag": f'"{task.version}"'})


async def change_task(
    view: ApiView,
    request: web.Request,
    task_id: str,
    mutate: Callable[[TaskRow], dict[str, Any]],
) -> web.Response:
    """The shared write path of every route that changes a task: read, change, then record the change
    with its audit and outbox rows in one statement (db.tasks.modify_task)."""
    ident = view.task_uuid(task_id)
    expected = v.if_match(request.headers.get("If-Match"))
    async with view.connection() as conn:
        task, event = await queries.modify_task(
            conn, view.user_id(request), ident, mutate, now=view.clock(), expected_version=expected
        )
    view.published([event])
    return task_response(view, task)


@app.page("/api/tasks")
class TaskCollection(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        user_id = self.user_id(request)
        query = request.query
        if query.get("view"):
            async with self.autocommit() as session:
                query = await with_saved_view(session, user_id, query)
        async with self.connection() as conn:
            if needs_zone(query):
                query = {**query, "tz": await zone_name(conn, user_id)}
            spec = parse_list(query)
            page = await queries.list_tasks(conn, user_id, spec, now=self.clock())
        # A filtered count stops at COUNT_CAP: past it, "total" says "at least this many".
        exact = unfiltered(spec) or page.total <= COUNT_CAP
        # The tasks are JSON PostgreSQL wrote; only the envelope is built here.
        body = '{"tasks":[%s],"total":%d,"total_exact":%s,"limit":%d,"offset":%d,"next_cursor":%s}' % (
            ",".join(page.tasks), page.total if exact else COUNT_CAP, "true" if exact else "false", spec.limit,
            spec.offset, json.dumps(page.next_cursor))
        return self.respond_json(request, body.encode())

    async def post(self, request: web.Request) -> web.Response:
        fields = await resolve_due(self, request, v.task_create(await self.body(request)))
        async with self.connection() as conn:  # create_task is one statement
            task, event = await queries.create_task(conn, self.user_id(request), fields, now=self.clock())
        self.published([event])
        response = task_response(self, task, status=201)
        response.headers["Location"] = f"/api/tasks/{task.id}"
        return response


@app.page("/api/tasks/{task_id}")
class TaskItem(ApiView):
    async def get(self, request: web.Request, task_id: str) -> web.Response:
        ident = self.task_uuid(task_id)
        async with self.connection() as conn:
            found = await queries.get_task_json(conn, self.user_id(request), ident)
        if found is None:
            raise not_found("task", ident)
        body, version = found
        return self.respond_json(request, body.encode(), etag=f'"{version}"')

    async def patch(self, request: web.Request, task_id: str) -> web.Response:
        self.task_uuid(task_id)
        fields = await resolve_due(self, request, v.task_update(await self.body(request)))
        return await change_task(self, request, task_id, lambda task: fields)

    async def delete(self, request: web.Request, task_id: str) -> web.Response:
        ident = self.task_uuid(task_id)
        expected = v.if_match(request.headers.get("If-Match"))
        async with self.connection() as conn:
            event = await queries.delete_task(
                conn, self.user_id(request), ident, now=self.clock(), expected_version=expected
            )
        self.published([event])
        return self.no_content()


@app.page("/api/tasks/{task_id}/complete")
class TaskComplete(ApiView):
    async def post(self, request: web.Request, task_id: str) -> web.Response:
        return await change_task(self, request, task_id, lambda task: {"completed": True})


@app.page("/api/tasks/{task_id}/uncomplete")
class TaskUncomplete(ApiView):
    async def post(self, request: web.Request, task_id: str) -> web.Response:
        return await change_task(self, request, task_id, lambda task: {"completed": False})


@app.page("/api/tasks/{task_id}/priority")
class TaskPriority(ApiView):
    async def patch(self, request: web.Request, task_id: str) -> web.Response:
        self.task_uuid(task_id)
        priority = v.single_field(await self.body(request), "priority")
        return await change_task(self, request, task_id, lambda task: {"priority": priority})


@app.page("/api/tasks/{task_id}/due-date")
class TaskDueDate(ApiView):
    async def patch(self, request: web.Request, task_id: str) -> web.Response:
        self.task_uuid(task_id)
        fields = await resolve_due(self, request, {"due_date": v.single_field(await self.body(request), "due_date")})
        return await change_task(self, request, task_id, lambda task: fields)


@app.page("/api/tasks/{task_id}/tags")
class TaskTags(ApiView):
    async def post(self, request: web.Request, task_id: str) -> web.Response:
        self.task_uuid(task_id)
        body = v.require_object(await self.body(request))
        v.reject_unknown(body, ("tags",))
        if "tags" not in body:
            raise v.ValidationError("tags", "is required")
        v.request_tags(body["tags"])  # validate the request itself before touching the task
        return await change_task(
            self, request, task_id, lambda task: {"tags": v.tags(body["tags"], existing=task.tags)}
        )


@app.page("/api/tasks/{task_id}/tags/{tag}")
class TaskTag(ApiView):
    async def delete(self, request: web.Request, task_id: str, tag: str) -> web.Response:
        self.task_uuid(task_id)
        name = v.tag(tag, field="tag")

        def remove(task: TaskRow) -> dict[str, Any]:
            if name not in task.tags:
                raise not_found("tag", name)
            return {"tags": [t for t in task.tags if t != name]}

        return await change_task(self, request, task_id, remove)


