"""The registry: every part of the API joined once, and the OpenAPI document built from it."""

from __future__ import annotations

import copy
import re
from importlib import metadata
from typing import Any

from ..auth import ALGORITHM
from . import (
    audit,
    base,
    calendar,
    changes,
    dashboard,
    docs,
    health,
    metrics,
    notification_settings,
    notifications,
    quick_add,
    recurring,
    reminders,
    saved_views,
    settings,
    spec,
    tasks,
    transfer,
    webhooks,
    websocket,
)
from .base import ERRORS, NOT_FOUND_RULE, error_responses
from .schema import JSON, SECURITY_SCHEME, Resource, Route, Schema, ref

OPENAPI_VERSION = "3.1.0"

#: Every part of the API, in the order the document lists their routes and tags.
RESOURCES: tuple[Resource, ...] = (
    base.RESOURCE, tasks.RESOURCE, quick_add.RESOURCE, audit.RESOURCE, saved_views.RESOURCE, health.RESOURCE,
    spec.RESOURCE, websocket.RESOURCE, changes.RESOURCE, metrics.RESOURCE, reminders.RESOURCE, notifications.RESOURCE,
    notification_settings.RESOURCE, settings.RESOURCE, webhooks.RESOURCE, dashboard.RESOURCE, docs.RESOURCE,
    recurring.RESOURCE, calendar.RESOURCE, transfer.RESOURCE,
)


def join(part: str) -> dict[str, Any]:
    """One mapping of every resource's `part`: a name declared twice is a mistake, not an override."""
    joined: dict[str, Any] = {}
    for resource in RESOURCES:
        for name, value in getattr(resource, part).items():
            if name in joined:
                raise ValueError(f"the OpenAPI {part} entry {name!r} is declared twice")
            joined[name] = value
    return joined


ROUTES: tuple[Route, ...] = tuple(route for resource in RESOURCES for route in resource.routes)
TAGS: list[Schema] = [tag for resource in RESOURCES for tag in resource.tags]
SCHEMAS: dict[str, Schema] = join("schemas")
PARAMETERS: dict[str, Schema] = join("parameters")
HEADERS: dict[str, Schema] = join("headers")
#: Path template variable -> the parameter describing it.
PATH_PARAMETERS: dict[str, str] = join("path_parameters")
#: Path template variables naming something of the caller's: when it does not exist, 404.
OWNED_IDS: tuple[str, ...] = tuple(name for resource in RESOURCES for name in resource.owned_ids)
#: Operation that creates something -> the path variable naming it; its 201 links to every route that
#: needs only that variable (clients and stateful API fuzzers follow these, e.g. create -> read -> delete).
CREATES: dict[str, str] = join("creates")


# Operations and paths ---------------------------------------------------------------------


def operation(route: Route) -> Schema:
    parameters = [ref(name, "parameters") for name in route.query]
    if route.conditional:
        parameters.append(ref("IfMatch", "parameters"))
    parameters.append(ref("RequestId", "parameters"))
    responses = {str(status): body for status, body in route.responses.items()}
    for status in route.error_codes(OWNED_IDS):
        responses.setdefault(str(status), ref(ERRORS[status][0], "responses"))
    result: Schema = {"operationId": route.operation_id, "summary": route.summary, "tags": [route.tag]}
    if route.description:
        result["description"] = route.description
    if route.authenticated:
        result["security"] = [{SECURITY_SCHEME: []}]
    result["parameters"] = parameters
    if route.body:
        content = {JSON: {"schema": ref(route.body)}} | {kind: {"schema": schema} for kind, schema in
                                                          route.other_bodies.items()}
        result["requestBody"] = {"required": True, "content": content}
    result["responses"] = dict(sorted(responses.items()))
    return result


def path_variables(path: str) -> list[str]:
    """The template variables of a path, also those inside a segment (`/calendar/{token}.ics`)."""
    return re.findall(r"\{([^}]+)\}", path)


def path_parameters(path: str) -> list[Schema]:
    return [ref(PATH_PARAMETERS[name], "parameters") for name in path_variables(path)]


def link_name(operation_id: str) -> str:
    return operation_id[0].upper() + operation_id[1:]


def add_links(routes: tuple[Route, ...], result: dict[str, Schema]) -> None:
    """OpenAPI links from each created thing to what can be done with it, by its `id` in the 201 body."""
    for creator in routes:
        variable = CREATES.get(creator.operation_id)
        if variable is None:
            continue
        links = {
            link_name(target.operation_id): {
                "operationId": target.operation_id,
                "parameters": {variable: "$response.body#/id"},
                "description": f"`id` in the answer is the `{variable}` of {target.method.upper()} {target.path}.",
            }
            for target in routes
            if path_variables(target.path) == [variable]
        }
        response = result[creator.path][creator.method]["responses"]["201"]
        response["links"] = links
    # Removing a tag needs one the task has: the answer to adding tags names them.
    tags = next((r for r in routes if r.operation_id == "addTaskTags"), None)
    if tags is not None and any(r.operation_id == "removeTaskTag" for r in routes):
        result[tags.path][tags.method]["responses"]["200"]["links"] = {
            "RemoveTaskTag": {
                "operationId": "removeTaskTag",
                "parameters": {"task_id": "$response.body#/id", "tag": "$response.body#/tags/0"},
                "description": "Remove the first tag the task now has.",
            }
        }


def paths(routes: tuple[Route, ...] | None = None) -> dict[str, Schema]:
    """The paths object for `routes` (default: every route in the registry)."""
    routes = ROUTES if routes is None else routes
    result: dict[str, Schema] = {}
    for route in routes:
        item = result.setdefault(route.path, {})
        if "parameters" not in item and (shared := path_parameters(route.path)):
            item["parameters"] = shared
        item[route.method] = operation(route)
    add_links(routes, result)
    return result


# The document -------------------------------------------------------------------------------


def package_version() -> str:
    try:
        return metadata.version("taskstream")
    except metadata.PackageNotFoundError:
        return "0.0.0"


DESCRIPTION = f"""\
A self-hostable, event-driven task service.

**Authentication.** Every `/api` route needs `Authorization: Bearer <token>`: a JWT signed with
{ALGORITHM} whose `sub` is your user id (`taskstream token <user>` issues one).

**Ownership.** You only ever see your own tasks and saved views. {NOT_FOUND_RULE}

**Concurrency.** Task responses carry an `ETag` (the task's version). Send it back as `If-Match`
on a change to fail with 412 instead of overwriting someone else's change.

**Errors.** Every failure is JSON `{{"error", "message", "details"}}` (see the Error schema), and
every response has an `X-Request-ID` header.

**Events.** Each change is recorded in the task's audit trail and published on the `task-events`
Kafka topic after it commits.
"""


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, as a fresh dict the caller may change."""
    return copy.deepcopy({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "taskstream",
            "version": package_version(),
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "responses": error_responses(),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": f"A JWT signed with {ALGORITHM}; `sub` is the user id, `exp` is required.",
                }
            },
        },
    })
