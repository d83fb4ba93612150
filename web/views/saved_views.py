"""Saved views: named filters and sort orders a user keeps, applied with GET /api/tasks?view=ID."""

from __future__ import annotations

from typing import Any, Mapping

from aiohttp import web

from db import saved_views as queries
from streams.app import app

from ..errors import ValidationError, not_found
from ..validation import fields as v
from ..validation.listing import VIEW_PARAMS, parse_list
from .base import ApiView

NAME_MAX = 100
SHORTHAND = ("filter", "sort_by", "sort_order")


def view_query(body: Any) -> tuple[str, dict[str, str]]:
    """Validate {"name", "filter"?, "sort_by"?, "sort_order"?, "params"?} into a name and list parameters."""
    body = v.require_object(body)
    v.reject_unknown(body, ("name", *SHORTHAND, "params"))
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
        raise ValidationError("name", f"must be 1-{NAME_MAX} characters")
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise ValidationError("params", "must be an object of GET /api/tasks parameters")
    shorthand = {k: body[k] for k in SHORTHAND if k in body}
    from_params: dict[str, str] = {}
    query: dict[str, str] = {}
    for source, (key, value) in [*(("params", item) for item in params.items()),
                                 *(("body", item) for item in shorthand.items())]:
        if key not in VIEW_PARAMS:
            raise ValidationError(f"params.{key}" if key in params else key,
                                  f"is not a parameter a view can store; allowed: {', '.join(VIEW_PARAMS)}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = ",".join(str(item) for item in value)
        elif not isinstance(value, (str, int)):
            raise ValidationError(key, "must be a string, number, boolean or list")
        query[key] = str(value)
        if source == "params":
            from_params[key] = str(value)
    if not query:
        raise ValidationError("filter", "a view needs at least a filter, a sort or another parameter")
    if from_params.keys() & shorthand.keys():
        # The top-level form wins, but what it replaces must be valid too, as the document says.
        parse_list(from_params)
    parse_list(query)  # the same validation as GET /api/tasks, so a saved view always works
    return name.strip(), query


async def with_saved_view(session, user_id: str, query: Mapping[str, str]) -> Mapping[str, str]:
    """The request's parameters on top of the saved view's, when `view=ID` is given."""
    if not query.get("view"):
        return query
    ident = v.parse_uuid(query["view"])
    view = await queries.get_view(session, user_id, ident) if ident else None
    if view is None:
        raise ValidationError("view", f"no saved view {query['view']!r}; see GET /api/views")
    return {**view.query, **{k: val for k, val in query.items() if k != "view"}}


@app.page("/api/views")
class SavedViewCollection(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        v.reject_unknown_params(request.query, ())
        async with self.transaction() as session:
            views = await queries.list_views(session, self.user_id(request))
        return self.respond({"views": [queries.view_json(view) for view in views]})

    async def post(self, request: web.Request) -> web.Response:
        name, query = view_query(await self.body(request))
        async with self.transaction() as session:
            view = await queries.create_view(session, self.user_id(request), name, query)
        return self.respond(queries.view_json(view), status=201, headers={"Location": f"/api/views/{view.id}"})


@app.page("/api/views/{view_id}")
class SavedViewItem(ApiView):
    async def get(self, request: web.Request, view_id: str) -> web.Response:
        ident = self.task_uuid(view_id, "view")
        async with self.transaction() as session:
            view = await queries.get_view(session, self.user_id(request), ident)
        if view is None:
            raise not_found("view", ident)
        return self.respond(queries.view_json(view))

    async def delete(self, request: web.Request, view_id: str) -> web.Response:
        ident = self.task_uuid(view_id, "view")
        async with self.transaction() as session:
            deleted = await queries.delete_view(session, self.user_id(request), ident)
        if not deleted:
            raise not_found("view", ident)
        return self.no_content()
