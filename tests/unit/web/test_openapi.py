"""Tests for the OpenAPI document: valid 3.1, self-consistent, and in step with what the server accepts and returns."""

from __future__ import annotations

import json
import re
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from db.listing import ListSpec, encode_cursor
from db.models import SavedView, Task
from db.saved_views import view_json
from db.serialize import task_snapshot
from streams.app import app
from streams.rules.filterlang import MAX_LENGTH as FILTER_MAX
from web.openapi import document as build_document
from web.openapi.schema import SECURITY_SCHEME
from web.openapi.tasks import FILTER_EXAMPLES
from web.openapi.view import OpenApiView
from web.errors import ApiError, ValidationError
from web.validation import fields as v
from web.validation.listing import LIST_PARAMS, SEARCH_MAX, VIEW_PARAMS, parse_list
from web.views.saved_views import NAME_MAX, view_query

CREATED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


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


def parameter_accepts(document: dict[str, Any], component: str, raw: Any) -> bool:
    """Whether a value is valid against the schema of components/parameters/<component>, formats included."""
    schema = document["components"]["parameters"][component]["schema"]
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(raw)


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
    assert build_document()["info"]["title"] == "taskstream"

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert build_document()["info"]["version"] == "0.0.0"


def test_each_call_returns_an_independent_document():
    first = build_document()
    first["components"]["parameters"]["TaskId"]["description"] = "changed"
    assert build_document()["components"]["parameters"]["TaskId"]["description"] != "changed"


async def test_openapi_json_serves_the_document_without_authentication():
    response = await OpenApiView(app, app.web).get(None)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert json.loads(response.body) == build_document()


# Security, headers and responses ------------------------------------------------------------


def test_every_api_route_requires_a_bearer_jwt_and_documents_401(document):
    scheme = document["components"]["securitySchemes"][SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for method, path, operation in operations(document):
        if path.startswith("/api/"):
            assert operation.get("security") == [{SECURITY_SCHEME: []}], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"
        elif path == "/ws":  # a token is required too, by header, query parameter or subprotocol
            assert "401" in operation["responses"]
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


@pytest.mark.parametrize("component", ["TaskId", "ViewId"])
def test_ids_are_plain_strings_because_a_malformed_id_answers_404(document, component):
    parameter = document["components"]["parameters"][component]
    assert parameter["schema"] == {"type": "string"}
    assert "another user" in parameter["description"]


@pytest.mark.parametrize(
    "method, path",
    [("get", "/api/tasks/{task_id}"), ("get", "/api/views/{view_id}"), ("delete", "/api/views/{view_id}")],
)
def test_routes_with_an_id_in_the_path_document_404(document, method, path):
    assert "404" in document["paths"][path][method]["responses"]


def test_saving_a_view_documents_201_with_location_and_409_on_a_duplicate_name(document):
    responses = document["paths"]["/api/views"]["post"]["responses"]
    assert "Location" in responses["201"]["headers"]
    assert responses["409"] == {"$ref": "#/components/responses/Conflict"}
    assert "conflict" in document["components"]["responses"]["Conflict"]["description"]


def test_listing_views_documents_400_because_it_rejects_every_query_parameter(document):
    operation = document["paths"]["/api/views"]["get"]
    assert "400" in operation["responses"]
    assert server_accepts(lambda q: v.reject_unknown_params(q, ()), {})
    assert not server_accepts(lambda q: v.reject_unknown_params(q, ()), {"limit": "5"})


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
    cursor = encode_cursor(ListSpec(limit=1), full_task())
    page = {"tasks": [after], "total": 7, "total_exact": True, "limit": 1, "offset": 0, "next_cursor": cursor}
    assert conforms(document, "TaskList", page)
    assert conforms(document, "TaskList", {"tasks": [], "total": 0, "total_exact": True, "limit": 20, "offset": 0,
                                           "next_cursor": None})
    assert not conforms(document, "TaskList", {key: value for key, value in page.items() if key != "next_cursor"})
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


@pytest.mark.parametrize(
    "error",
    [
        ValidationError("title", "is required"),
        ValidationError("filter", "expected a term after '&' but found end of input at position 15", position=15),
        ApiError(409, "conflict", "you already have a view named 'Soon'", {"field": "name"}),
    ],
    ids=["validation", "filter-syntax", "conflict"],
)
def test_error_schema_matches_the_api_error_body(document, error):
    assert conforms(document, "Error", json.loads(error.response().body))


def test_a_filter_syntax_error_names_the_field_and_position_as_documented(document):
    with pytest.raises(ValidationError) as caught:
        parse_list({"filter": "priority:high &"})
    assert caught.value.details == {"field": "filter", "position": len("priority:high &")}
    assert "`position`" in document["components"]["parameters"]["Filter"]["description"]


def saved_view(name: str, query: dict[str, str]) -> dict[str, Any]:
    """A view as GET /api/views/{view_id} renders it."""
    view = SavedView(id=uuid.uuid4(), user_id="alice", name=name, query=query, created_at=CREATED)
    return view_json(view)


def test_saved_views_as_the_server_stores_them_conform_to_the_saved_view_schemas(document):
    bodies = [
        {"name": " Soon ", "filter": "due<7d & !done", "sort_by": "due_date"},
        {"name": "Work", "params": {"priority": ["high", "Medium"], "tags": ["work"], "overdue": True, "tz": "UTC"}},
        {"name": "x" * NAME_MAX, "sort_order": "asc", "params": {"search": "", "has_due_date": "no"}},
    ]
    views = [saved_view(*view_query(body)) for body in bodies]
    for view in views:
        assert conforms(document, "SavedView", view), view
    assert views[1]["query"] == {"priority": "high,Medium", "tags": "work", "overdue": "true", "tz": "UTC"}
    assert conforms(document, "SavedViewList", {"views": views})
    assert conforms(document, "SavedViewList", {"views": []})


def test_saved_view_schema_rejects_what_the_server_never_stores(document):
    view = saved_view("Soon", {"filter": "due<7d"})
    assert not conforms(document, "SavedView", {**view, "query": {}})
    assert not conforms(document, "SavedView", {**view, "query": {"limit": "5"}})
    assert not conforms(document, "SavedView", {**view, "query": {"overdue": True}})
    assert not conforms(document, "SavedView", {**view, "id": "not-a-uuid"})


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


# GET /api/tasks parameters and saved views agree with the server -----------------------------


def list_operation_parameters(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parameters = [resolve(document, p["$ref"]) for p in document["paths"]["/api/tasks"]["get"]["parameters"]]
    return {p["name"]: p for p in parameters if p["in"] == "query"}


def test_list_tasks_documents_every_parameter_the_server_reads_and_no_other(document):
    documented = list_operation_parameters(document)
    assert set(documented) == set(LIST_PARAMS)
    for name, parameter in documented.items():
        assert parameter["description"], name
        assert parameter["required"] is False, name


def test_list_tasks_documents_next_cursor_and_the_filter_language_examples(document):
    assert "next_cursor" in document["components"]["schemas"]["TaskList"]["required"]
    examples = [e["value"] for e in document["components"]["parameters"]["Filter"]["examples"].values()]
    assert examples == [
        "priority:high & #work & due<7d & !done",
        "(#home | #errands) & overdue",
        '"quarterly report" & created>2026-01-01',
    ]


@pytest.mark.parametrize("name", sorted(LIST_PARAMS))
def test_parameter_defaults_are_valid_and_accepted(document, name):
    parameter = list_operation_parameters(document)[name]
    if "default" in parameter["schema"] and parameter["schema"]["type"] == "string":
        default = parameter["schema"]["default"]
        assert Draft202012Validator(parameter["schema"]).is_valid(default)
        assert server_accepts(parse_list, {name: default})


@pytest.mark.parametrize("example", list(FILTER_EXAMPLES))
def test_documented_filter_examples_are_accepted(document, example):
    value = document["components"]["parameters"]["Filter"]["examples"][example]["value"]
    assert parameter_accepts(document, "Filter", value)
    assert server_accepts(parse_list, {"filter": value})


#: (query parameter, raw value): the documented schema accepts exactly what GET /api/tasks accepts.
PARAMETER_SAMPLES = [
    ("priority", "high"), ("priority", "HIGH,low"), ("priority", " Medium , low "), ("priority", ""),
    ("priority", ","), ("priority", "high,,low"), ("priority", "urgent"), ("priority", "high,urgent"),
    ("priority", "high low"), ("priority", "hi"),
    ("tags", "work"), ("tags", "Work, Home"), ("tags", ""), ("tags", "a,,b"), ("tags", " , "),
    ("tags", "two words"), ("tags", "x" * v.TAG_MAX), ("tags", " " + "x" * v.TAG_MAX + " "),
    ("tags", "x" * (v.TAG_MAX + 1)), ("tags", "ok," + "x" * (v.TAG_MAX + 1)),
    ("tags_mode", "all"), ("tags_mode", "ANY"), ("tags_mode", ""), ("tags_mode", "some"), ("tags_mode", "all "),
    ("completed", "yes"), ("overdue", "true"), ("overdue", "No"), ("overdue", ""), ("overdue", "maybe"),
    ("has_due_date", "1"), ("has_due_date", "2"), ("recurring", "FALSE"), ("recurring", "y"),
    ("due_before", "2026-12-01T17:00:00+01:00"), ("due_before", "2026-12-01T16:00:00Z"), ("due_before", "2026-12-01"),
    ("due_before", ""), ("due_before", "2026-12-01T17:00:00"), ("due_before", "tomorrow"), ("due_before", "7d"),
    ("due_after", "2026-12-01T16:00:00.250Z"), ("due_after", "2026-13-01"), ("due_after", "2026-02-30"),
    ("created_after", "2026-01-01"), ("created_after", "01/12/2026"), ("created_before", "2026-11-20T09:30:00-05:00"),
    ("created_before", "now"),
    ("search", "quarterly"), ("search", '"quarterly report" fin'), ("search", ""), ("search", "x" * SEARCH_MAX),
    ("search", "x" * (SEARCH_MAX + 1)),
    ("filter", ""), ("filter", "#work"), ("filter", "x" * (FILTER_MAX + 1)),
    ("tz", "Europe/Berlin"), ("tz", "UTC"), ("tz", ""), ("tz", "America/Argentina/Buenos_Aires"), ("tz", "Etc/GMT+5"),
    ("tz", "../etc/passwd"), ("tz", "/etc/localtime"), ("tz", "Europe/Berlin "), ("tz", "Europe//Berlin"),
    ("sort_by", "due_date"), ("sort_by", "PRIORITY"), ("sort_by", "Completed_At"), ("sort_by", "title"),
    ("sort_by", "updated_at"), ("sort_by", "created_at"), ("sort_by", ""), ("sort_by", "relevance"),
    ("sort_by", "due"), ("sort_by", "title "),
    ("sort_order", "asc"), ("sort_order", "DESC"), ("sort_order", ""), ("sort_order", "up"),
]


def list_parameter_accepts(document: dict[str, Any], name: str, raw: str) -> bool:
    schema = list_operation_parameters(document)[name]["schema"]
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(raw)


@pytest.mark.parametrize("name, raw", PARAMETER_SAMPLES)
def test_list_parameter_schemas_accept_exactly_what_the_server_accepts(document, name, raw):
    assert list_parameter_accepts(document, name, raw) == server_accepts(parse_list, {name: raw})


@pytest.mark.parametrize(
    "name, raw",
    [("due_before", "20261201"), ("due_before", "2026-W48-1"), ("due_after", "2026-12-01T17:00+01:00"),
     ("created_after", "2026-12-01 17:00:00Z")],
)
def test_dates_the_server_reads_beyond_the_documented_rfc_3339_forms(document, name, raw):
    """The server reads every ISO-8601 form Python does; the document promises only the RFC 3339 ones."""
    assert server_accepts(parse_list, {name: raw})
    assert not list_parameter_accepts(document, name, raw)


@pytest.mark.parametrize(
    "name, raw",
    [("filter", "priority:urgent"), ("filter", "(#home"), ("filter", "due < 7d"), ("tz", "Mars/Olympus"),
     ("cursor", "not-a-cursor")],
)
def test_values_only_the_server_can_judge(document, name, raw):
    """The filter grammar, the zones that exist and the cursors handed out are in the descriptions, not the schemas."""
    assert list_parameter_accepts(document, name, raw)
    assert not server_accepts(parse_list, {name: raw})


def test_every_time_zone_the_server_knows_matches_the_tz_pattern(document):
    zones = zoneinfo.available_timezones()
    assert zones, "no time zone data installed"
    for zone in sorted(zones):
        assert parameter_accepts(document, "TimeZone", zone), zone
        assert server_accepts(parse_list, {"tz": zone}), zone


def test_a_cursor_cannot_be_combined_with_an_offset_as_documented(document):
    cursor = encode_cursor(ListSpec(), full_task())
    assert server_accepts(parse_list, {"cursor": cursor})
    assert server_accepts(parse_list, {"cursor": cursor, "offset": "0"})
    assert not server_accepts(parse_list, {"cursor": cursor, "offset": "20"})
    assert "offset" in document["components"]["parameters"]["TaskCursor"]["description"]


def test_saved_view_create_lists_exactly_the_parameters_a_view_can_store(document):
    schema = document["components"]["schemas"]["SavedViewCreate"]
    assert set(schema["properties"]["params"]["properties"]) == set(VIEW_PARAMS)
    assert set(document["components"]["schemas"]["SavedView"]["properties"]["query"]["propertyNames"]["enum"]) == set(
        VIEW_PARAMS
    )


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Urgent work", "filter": "priority:high & #work"},
        {"name": "  Soon  ", "sort_by": "due_date"},
        {"name": "Mine", "sort_order": "DESC"},
        {"name": "Mine", "filter": ""},
        {"name": "x" * NAME_MAX, "filter": "done"},
        {"name": "Mine", "params": {"priority": ["high", "Medium"], "overdue": True, "tz": "Europe/Berlin"}},
        {"name": "Mine", "params": {"tags": "work,home", "tags_mode": "any", "due_before": "2026-12-01"}},
        {"name": "Mine", "params": {"tags": ["work", " Home "], "completed": "no", "search": "report"}},
        {"name": "Mine", "params": {"priority": []}},
        {"name": "Mine", "filter": "#work", "params": {"filter": "#home", "recurring": False}},
        {"name": "Mine"},
        {"name": "Mine", "params": {}},
        {"filter": "done"},
        {"name": "", "filter": "done"},
        {"name": "   ", "filter": "done"},
        {"name": "x" * (NAME_MAX + 1), "filter": "done"},
        {"name": None, "filter": "done"},
        {"name": "Mine", "params": {"limit": 10}},
        {"name": "Mine", "params": {"offset": 0}},
        {"name": "Mine", "params": {"cursor": "abc"}},
        {"name": "Mine", "params": {"view": "0b7f8a52-8d4e-4c1e-9a57-2f0c6e1d3b44"}},
        {"name": "Mine", "params": {"owner": "bob"}},
        {"name": "Mine", "params": {"priority": "urgent"}},
        {"name": "Mine", "params": {"priority": ["high", "urgent"]}},
        {"name": "Mine", "params": {"tags": ["x" * (v.TAG_MAX + 1)]}},
        {"name": "Mine", "params": {"overdue": "maybe"}},
        {"name": "Mine", "params": {"overdue": None}},
        {"name": "Mine", "params": {"search": 1.5}},
        {"name": "Mine", "params": {"search": "x" * (SEARCH_MAX + 1)}},
        {"name": "Mine", "params": {"due_after": "tomorrow"}},
        {"name": "Mine", "params": {"tz": "../etc/passwd"}},
        {"name": "Mine", "sort_by": "relevance"},
        {"name": "Mine", "sort_order": "sideways"},
        {"name": "Mine", "filter": None},
        {"name": "Mine", "filter": "x" * (FILTER_MAX + 1)},
        {"name": "Mine", "params": "priority=high"},
        {"name": "Mine", "query": {"priority": "high"}},
        ["Mine"],
    ],
)
def test_saved_view_create_schema_accepts_exactly_what_the_server_accepts(document, body):
    assert conforms(document, "SavedViewCreate", body) == server_accepts(view_query, body)
