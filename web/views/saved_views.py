"""Saved views: named filters and sort orders a user keeps, applied with GET /api/tasks?view=ID."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from aiohttp import web

from db import saved_views as queries
from streams.app import app

from ..errors import ValidationError, not_found
from ..validation import fields as v
from ..validation.listing import VIEW_PARAMS, parse_list
from .base import ApiView

NAME_MAX = 100
SHORTHAND = ("filter", "sort_by", "sort_order")
#: Parameters a view may also give as JSON booleans, or as lists of strings (joined with commas).
BOOLEAN_PARAMS = ("completed", "overdue", "has_due_date", "recurring")
LIST_PARAMS = ("priority", "tags")


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
        if isinstance(value, bool) and key in BOOLEAN_PARAMS:
            value = "true" if value else "false"
        elif isinstance(value, list) and key in LIST_PARAMS and all(isinstance(item, str) for item in value):
            if any("," in item for item in value):
                raise ValidationError(key, "each item of a list is one value, without commas")
            value = ",".join(value)
        elif not isinstance(value, str):
            kinds = ("a string or a boolean" if key in BOOLEAN_PARAMS else
                     "a string or a list of strings" if key in LIST_PARAMS else "a string")
            raise ValidationError(key, f"must be {kinds}")
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


def view_patch(body: Any) -> Callable[[Any], tuple[str, dict[str, str]]]:
    """Validate a PATCH body's shape; the returned function merges it into a stored view and validates
    the result as a create would. A parameter set to null is removed; `params` adds to the stored ones."""
    body = v.require_object(body)
    v.reject_unknown(body, ("name", *SHORTHAND, "params"))
    if not body:
        raise ValidationError("body", f"names nothing to change; send at least one of name, {', '.join(SHORTHAND)}"
                                      " or params")
    if "name" in body and body["name"] is None:
        raise ValidationError("name", "cannot be null; a view always has a name")
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise ValidationError("params", "must be an object of GET /api/tasks parameters (null removes one)")
    shorthand = {k: body[k] for k in SHORTHAND if k in body}

    def merge(view: Any) -> tuple[str, dict[str, str]]:
        query: dict[str, Any] = dict(view.query)
        for key, value in params.items():
            if value is None:
                query.pop(key, None)
            else:
                query[key] = value
        for key, value in shorthand.items():
            if value is None:
                query.pop(key, None)
        # The shorthand goes in as the top-level form, so what it replaces in `params` is validated too.
        return view_query({"name": body.get("name", view.name), "params": query,
                           **{k: val for k, val in shorthand.items() if val is not None}})

    return merge


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

    async def patch(self, request: web.Request, view_id: str) -> web.Response:
        ident = self.task_uuid(view_id, "view")
        merge = view_patch(await self.body(request))
        return await self._change(request, ident, merge)

    async def put(self, request: web.Request, view_id: str) -> web.Response:
        ident = self.task_uuid(view_id, "view")
        name, query = view_query(await self.body(request))
        return await self._change(request, ident, lambda view: (name, query))

    async def _change(self, request: web.Request, ident, change) -> web.Response:
        async with self.transaction() as session:
            view = await queries.update_view(session, self.user_id(request), ident, change)
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
