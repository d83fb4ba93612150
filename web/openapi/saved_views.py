"""Saved views: named GET /api/tasks queries, their schemas and routes."""

from __future__ import annotations

from ..validation.listing import VIEW_PARAMS
from ..views.saved_views import NAME_MAX, SHORTHAND
from .schema import (
    NOT_BLANK,
    TIMESTAMP,
    UUID,
    Resource,
    Route,
    Schema,
    closed_object,
    described,
    not_found_rule,
    ref,
    response,
)
from .tasks import PRIORITY_WORD, TAG_WORD, list_parameters

#: Besides its string form, the JSON value a saved view's `params` may give a parameter: the server
#: writes a boolean as true/false and joins a list with commas.
VIEW_JSON_VALUES: dict[str, Schema] = {
    **{name: {"type": "boolean"} for name in ("completed", "overdue", "has_due_date", "recurring")},
    "priority": {"type": "array", "items": {"type": "string", "pattern": rf"^\s*(?:{PRIORITY_WORD}\s*)?$"}},
    "tags": {"type": "array", "items": {"type": "string", "pattern": rf"^\s*(?:{TAG_WORD}\s*)?$"}},
}


def view_value(name: str) -> Schema:
    """What a saved view accepts for the GET /api/tasks parameter `name`."""
    text = list_parameters()[name]["schema"]
    return {"anyOf": [text, VIEW_JSON_VALUES[name]]} if name in VIEW_JSON_VALUES else text


def saved_view_create() -> Schema:
    params = closed_object(
        {name: view_value(name) for name in VIEW_PARAMS},
        description="GET /api/tasks parameters (all but limit, offset, cursor and view), as strings or as "
        "booleans and lists of strings where those make sense: `{\"priority\": [\"high\"], \"overdue\": true}`.",
    )
    at_least_one: list[Schema] = [{"required": [name]} for name in SHORTHAND]
    at_least_one.append({"required": ["params"], "properties": {"params": {"minProperties": 1}}})
    return closed_object(
        {
            "name": {
                "type": "string", "minLength": 1, "maxLength": NAME_MAX, "pattern": NOT_BLANK,
                "description": f"Trimmed; 1-{NAME_MAX} characters after trimming; unique among your views "
                "(409 if not).",
            },
            **{
                name: described(view_value(name), f"Shorthand for `params.{name}`; wins over it.")
                for name in SHORTHAND
            },
            "params": params,
        },
        required=("name",),
        anyOf=at_least_one,
        description="A view to save: a name and at least one parameter (filter, sort_by, sort_order or one in "
        "`params`). It is validated as GET /api/tasks validates its parameters, so a saved view always works.",
    )


def or_null(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def saved_view_patch() -> Schema:
    return closed_object(
        {
            "name": {
                "type": "string", "minLength": 1, "maxLength": NAME_MAX, "pattern": NOT_BLANK,
                "description": "The new name; unique among your views (409 if not).",
            },
            **{name: described(or_null(view_value(name)), f"Sets `{name}`; null removes it.") for name in SHORTHAND},
            "params": closed_object(
                {name: or_null(view_value(name)) for name in VIEW_PARAMS},
                description="GET /api/tasks parameters to set (null removes one); the stored parameters not "
                "named here are kept.",
            ),
        },
        minProperties=1,
        description="A partial change of a saved view. The view that results is validated as a new one "
        "would be: it still needs at least one parameter, and GET /api/tasks must accept them.",
    )


SCHEMAS: dict[str, Schema] = {
    "SavedView": closed_object(
        {
            "id": UUID,
            "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
            "query": {
                "type": "object",
                "propertyNames": {"enum": list(VIEW_PARAMS)},
                "additionalProperties": {"type": "string"},
                "minProperties": 1,
                "description": "The stored GET /api/tasks parameters, every value as its query-string form "
                "(booleans as true/false, lists comma-separated); shorthand fields are folded in.",
            },
            "created_at": TIMESTAMP,
        },
        required=("id", "name", "query", "created_at"),
        description="A saved view; apply it with GET /api/tasks?view={id}.",
    ),
    "SavedViewCreate": saved_view_create(),
    "SavedViewPatch": saved_view_patch(),
    "SavedViewList": closed_object(
        {"views": {"type": "array", "items": ref("SavedView"), "description": "By name."}},
        required=("views",),
    ),
}

PARAMETERS: dict[str, Schema] = {
    "ViewId": {
        "name": "view_id", "in": "path", "required": True,
        "schema": {"type": "string"},  # not format: uuid, as for TaskId
        "description": "The saved view's id (a UUID). " + not_found_rule("A view"),
    },
}

ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/api/views", "listViews", "List your saved views",
        {200: response("Your saved views, by name.", ref("SavedViewList"))},
        tag="views",
        description="Takes no query parameters; any is rejected (400).",
        errors=(400,),
    ),
    Route(
        "post", "/api/views", "createView", "Save a view",
        {201: response("The view as stored.", ref("SavedView"), Location="Location")},
        tag="views",
        description="Saves a name for a set of GET /api/tasks parameters, validated as that route validates "
        "them. 409 `conflict` when you already have a view of that name.",
        body="SavedViewCreate", errors=(409,),
    ),
    Route(
        "get", "/api/views/{view_id}", "getView", "Read a saved view",
        {200: response("The view.", ref("SavedView"))},
        tag="views",
    ),
    Route(
        "patch", "/api/views/{view_id}", "updateView", "Change a saved view",
        {200: response("The view as stored now.", ref("SavedView"))},
        tag="views",
        description="Renames the view or changes some of its parameters; what the body leaves out stays. "
        "409 `conflict` when you already have another view of the new name.",
        body="SavedViewPatch", errors=(409,),
    ),
    Route(
        "put", "/api/views/{view_id}", "replaceView", "Replace a saved view",
        {200: response("The view as stored now.", ref("SavedView"))},
        tag="views",
        description="Replaces the view's name and every parameter (the body of POST /api/views); its id "
        "stays. 409 `conflict` when you already have another view of that name.",
        body="SavedViewCreate", errors=(409,),
    ),
    Route(
        "delete", "/api/views/{view_id}", "deleteView", "Delete a saved view",
        {204: response("Deleted; no body.")},
        tag="views",
        description="Deletes the view for good; deleting it again answers 404. Tasks are not touched.",
    ),
)

TAGS: tuple[Schema, ...] = (
    {"name": "views", "description": "Saved views: named task queries, applied with GET /api/tasks?view=ID."},
)

RESOURCE = Resource(
    routes=ROUTES, tags=TAGS, schemas=SCHEMAS, parameters=PARAMETERS,
    path_parameters={"view_id": "ViewId"}, owned_ids=("view_id",), creates={"createView": "view_id"},
)
