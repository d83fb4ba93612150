"""Tests for the OpenAPI document: valid 3.1, self-consistent, and in step with what the server accepts and returns."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from db.models import Task
from db.serialize import task_snapshot
from streams.app import app
from web import openapi
from web import validation as v
from web.errors import ValidationError

CREATED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.document()


def full_task(**overrides: Any) -> Task:
    """A task with every column set, as it would come back from the database."""
    fields: dict[str, Any] = {
        "id": uuid.UUID("0b7f8a52-8d4e-4c1e-9a57-2f0c6e1d3b44"),
        "user_id": "alice",
        "title": "File the quarterly report",
        "description": "Numbers from finance first",
        "completed": True,
        "completed_at": datetime(2026, 11, 24, 16, 0, tzinfo=UTC),
        "due_date": datetime(2026, 11, 25, 17, 0, tzinfo=UTC),
        "priority": "HIGH",
        "tags": ["work", "finance"],
        "recurring_task_id": uuid.UUID("5d1c0b8e-3f2a-4e6b-8c9d-0a1b2c3d4e5f"),
        "version": 4,
        "created_at": CREATED,
        "updated_at": datetime(2026, 11, 24, 16, 0, tzinfo=UTC),
    }
    return Task(**{**fields, **overrides})


def conforms(document: dict[str, Any], component: str, instance: Any) -> bool:
    """Whether the instance is valid against components/schemas/<component>, formats included."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(instance)


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict[str, Any], pointer: str) -> Any:
    assert pointer.startswith("#/"), f"{pointer} points outside the document"
    node: Any = document
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method, path, operation


def server_accepts(check: Callable[[Any], Any], value: Any) -> bool:
    try:
        check(value)
    except ValidationError:
        return False
    return True


# The document as a whole ----------------------------------------------------------------------


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_ref_points_at_something_in_the_document(document):
    pointers = set(refs(document))
    assert pointers, "the document uses no $ref at all"
    for pointer in sorted(pointers):
        try:
            resolve(document, pointer)
        except (KeyError, TypeError):
            pytest.fail(f"{pointer} does not resolve")


def test_document_is_plain_json(document):
    assert json.loads(json.dumps(document)) == document


def test_document_names_the_service_and_falls_back_to_version_0_0_0_when_not_installed(monkeypatch):
    assert openapi.document()["info"]["title"] == "taskstream"

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(openapi.metadata, "version", not_installed)
    assert openapi.document()["info"]["version"] == "0.0.0"


def test_each_call_returns_an_independent_document():
    first = openapi.document()
    first["components"]["parameters"]["TaskId"]["description"] = "changed"
    assert openapi.document()["components"]["parameters"]["TaskId"]["description"] != "changed"


async def test_openapi_json_serves_the_document_without_authentication():
    response = await openapi.OpenApiView(app, app.web).get(None)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert json.loads(response.body) == openapi.document()


# Security, headers and responses ------------------------------------------------------------


def test_every_api_route_requires_a_bearer_jwt_and_documents_401(document):
    scheme = document["components"]["securitySchemes"][openapi.SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for method, path, operation in operations(document):
        if path.startswith("/api/"):
            assert operation.get("security") == [{openapi.SECURITY_SCHEME: []}], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"
        else:
            assert "security" not in operation, f"{method} {path}"
            assert "401" not in operation["responses"], f"{method} {path}"


@pytest.mark.parametrize(
    "method, path",
    [
        ("patch", "/api/tasks/{task_id}"),
        ("delete", "/api/tasks/{task_id}"),
        ("post", "/api/tasks/{task_id}/complete"),
        ("post", "/api/tasks/{task_id}/uncomplete"),
        ("patch", "/api/tasks/{task_id}/priority"),
        ("patch", "/api/tasks/{task_id}/due-date"),
        ("post", "/api/tasks/{task_id}/tags"),
        ("delete", "/api/tasks/{task_id}/tags/{tag}"),
    ],
)
def test_changes_accept_if_match_and_document_412(document, method, path):
    operation = document["paths"][path][method]
    headers = [resolve(document, p["$ref"])["name"] for p in operation["parameters"]]
    assert "If-Match" in headers
    assert "412" in operation["responses"]


def test_every_response_carries_x_request_id(document):
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            answer = resolve(document, answer["$ref"]) if "$ref" in answer else answer
            assert "X-Request-ID" in answer["headers"], f"{method} {path} {status}"


def test_every_response_with_a_task_body_carries_its_etag(document):
    task = {"$ref": "#/components/schemas/Task"}
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            if answer.get("content", {}).get("application/json", {}).get("schema") == task:
                assert "ETag" in answer["headers"], f"{method} {path} {status}"


def test_task_id_is_a_plain_string_because_a_malformed_id_answers_404(document):
    parameter = document["components"]["parameters"]["TaskId"]
    assert parameter["schema"] == {"type": "string"}
    assert "another user" in parameter["description"]


def test_readiness_documents_both_ready_and_not_ready(document):
    assert set(document["paths"]["/ready"]["get"]["responses"]) == {"200", "503"}
    assert set(document["paths"]["/health"]["get"]["responses"]) == {"200"}


# Schemas against what the server really returns ----------------------------------------------


def test_task_schema_lists_exactly_the_fields_task_snapshot_produces(document):
    snapshot = task_snapshot(full_task())
    schema = document["components"]["schemas"]["Task"]
    assert set(schema["properties"]) == set(snapshot)
    assert set(schema["required"]) == set(snapshot)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"completed": False, "completed_at": None, "due_date": None, "description": None, "recurring_task_id": None},
        {"tags": [], "priority": "LOW", "version": 1},
    ],
    ids=["everything-set", "open-with-nulls", "fresh-without-tags"],
)
def test_task_snapshots_conform_to_the_task_schema(document, overrides):
    assert conforms(document, "Task", task_snapshot(full_task(**overrides)))


def test_task_schema_rejects_a_lower_case_priority_and_a_naive_timestamp(document):
    snapshot = task_snapshot(full_task())
    assert not conforms(document, "Task", {**snapshot, "priority": "high"})
    assert not conforms(document, "Task", {**snapshot, "due_date": "2026-11-25T17:00:00"})


def test_task_list_and_audit_page_conform_to_their_schemas(document):
    before, after = task_snapshot(full_task(completed=False, completed_at=None, version=3)), task_snapshot(full_task())
    assert conforms(document, "TaskList", {"tasks": [after], "total": 7, "limit": 1, "offset": 0})
    event = {
        "id": str(uuid.uuid4()),
        "seq": 12,
        "event_type": "completed",
        "occurred_at": "2026-11-24T16:00:00Z",
        "user_id": "alice",
        "task_id": after["id"],
        "before": before,
        "after": after,
        "changes": {"completed": {"from": False, "to": True}},
    }
    assert conforms(document, "AuditPage", {"task_id": after["id"], "events": [event], "next_cursor": "c2VxOjEy"})
    deleted = {**event, "event_type": "deleted", "before": after, "after": None, "changes": {}}
    assert conforms(document, "AuditPage", {"task_id": after["id"], "events": [deleted], "next_cursor": None})


def test_error_schema_matches_the_api_error_body(document):
    body = json.loads(ValidationError("title", "is required").response().body)
    assert conforms(document, "Error", body)


# Request schemas agree with the server's validation ------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"title": "Buy milk"},
        {"title": "  Buy milk  ", "description": None, "priority": "high", "tags": ["Home", "home", " errands "]},
        {"title": "x", "priority": " mEdIuM ", "due_date": "2026-12-01T17:00:00+01:00"},
        {"title": "x", "due_date": None, "tags": []},
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * (v.TITLE_MAX + 1)},
        {"title": None},
        {"title": "x", "priority": "urgent"},
        {"title": "x", "priority": None},
        {"title": "x", "completed": True},
        {"title": "x", "owner": "bob"},
        {"title": "x", "tags": [f"t{i}" for i in range(v.TAGS_MAX + 1)]},
        {"title": "x", "tags": ["x" * (v.TAG_MAX + 1)]},
        {"title": "x", "tags": ["  "]},
        {"title": "x", "tags": "home"},
        {"title": "x", "due_date": "2026-12-01T17:00:00"},
        {"title": "x", "due_date": "tomorrow"},
        {"title": "x", "description": "d" * (v.DESCRIPTION_MAX + 1)},
        ["title"],
    ],
)
def test_task_create_schema_accepts_exactly_what_the_server_accepts(document, body):
    assert conforms(document, "TaskCreate", body) == server_accepts(v.task_create, body)


@pytest.mark.parametrize(
    "body",
    [
        {"completed": True},
        {"title": "renamed", "priority": "LOW"},
        {"due_date": None, "description": None},
        {"tags": []},
        {},
        {"completed": "yes"},
        {"title": None},
        {"tags": None},
        {"version": 3},
    ],
)
def test_task_update_schema_accepts_exactly_what_the_server_accepts(document, body):
    assert conforms(document, "TaskUpdate", body) == server_accepts(v.task_update, body)


@pytest.mark.parametrize(
    "component, field, body",
    [
        ("PriorityChange", "priority", {"priority": "Low"}),
        ("PriorityChange", "priority", {"priority": "LOWEST"}),
        ("PriorityChange", "priority", {"priority": "low", "title": "x"}),
        ("PriorityChange", "priority", {}),
        ("DueDateChange", "due_date", {"due_date": None}),
        ("DueDateChange", "due_date", {"due_date": "2026-12-01T17:00:00Z"}),
        ("DueDateChange", "due_date", {"due_date": "2026-12-01"}),
    ],
)
def test_single_field_schemas_accept_exactly_what_the_server_accepts(document, component, field, body):
    assert conforms(document, component, body) == server_accepts(lambda b: v.single_field(b, field), body)


@pytest.mark.parametrize("raw", ["true", "TRUE", "1", "yes", "False", "0", "No", "", "maybe", "2", "truey"])
def test_completed_parameter_pattern_matches_what_the_server_accepts(document, raw):
    pattern = document["components"]["parameters"]["Completed"]["schema"]["pattern"]
    assert bool(re.search(pattern, raw)) == server_accepts(lambda r: v.bool_param({"completed": r}, "completed"), raw)


@pytest.mark.parametrize("raw", ['"3"', 'W/"3"', "3", '"12"', "007", '"0"', "0", "abc", "", 'W/"x"', "-1"])
def test_if_match_pattern_matches_what_the_server_accepts(document, raw):
    pattern = document["components"]["parameters"]["IfMatch"]["schema"]["pattern"]
    assert bool(re.search(pattern, raw)) == server_accepts(v.if_match, raw)
