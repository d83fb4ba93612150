"""What the fuzzer's negative-data check found: input the OpenAPI document forbids that the server accepted."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from jsonschema import Draft202012Validator

from streams.rules.filterlang import MAX_LENGTH as FILTER_MAX
from web import openapi
from web.validation import fields as v
from web.errors import ValidationError
from web.views.saved_views import view_query


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.document()


def conforms(document: dict[str, Any], component: str, instance: Any) -> bool:
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(instance)


def server_accepts(check: Callable[[Any], Any], value: Any) -> bool:
    try:
        check(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("component", "check", "body"), [
    # maxItems counts what is sent; the server used to count only after dropping duplicates.
    ("TaskCreate", v.task_create, {"title": "x", "tags": ["same"] * (v.TAGS_MAX + 1)}),
    ("TaskUpdate", v.task_update, {"tags": ["Home", "home"] * 6}),
    ("TaskCreate", v.task_create, {"title": "x", "tags": ["same"] * v.TAGS_MAX}),
    # The top-level filter wins over params.filter, but the one it replaces must still be valid.
    ("SavedViewCreate", view_query, {"name": "Mine", "filter": "", "params": {"filter": "x" * (FILTER_MAX + 1)}}),
    ("SavedViewCreate", view_query, {"name": "Mine", "filter": "#work", "params": {"filter": "#home"}}),
])
def test_the_server_rejects_what_the_document_forbids(document, component, check, body):
    assert conforms(document, component, body) == server_accepts(check, body)
