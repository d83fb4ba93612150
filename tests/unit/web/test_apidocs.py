"""The API reference (`taskstream api-docs`, GET /docs) shows every documented operation, and the page is CSP-safe."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from web import apidocs
from web.openapi import document as openapi_document
from web.views.dashboard import static_file

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in document["paths"].items() for m, op in item.items() if m in METHODS]


def parameter_names(document: dict[str, Any], path: str, operation: dict[str, Any]) -> list[str]:
    nodes = [*document["paths"][path].get("parameters", []), *operation.get("parameters", [])]
    return [apidocs.resolve(document, node)["name"] for node in nodes]


def body_field_names(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    if "requestBody" not in operation:
        return []
    schema = apidocs.resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
    return list(schema.get("properties", {}))


def section(text: str, start: str, end: str) -> str:
    """The part of the output about one operation: from its heading to the next one."""
    begin = text.index(start)
    following = text.find(end, begin + len(start))
    return text[begin:following if following != -1 else None]


def test_markdown_lists_every_operation_with_its_parameters_body_fields_responses_and_error_codes(document):
    text = apidocs.markdown(document)
    for method, path, operation in operations(document):
        part = section(text, f"### {method.upper()} {path}\n", "\n### ")
        assert f"`{operation['operationId']}`" in part
        for name in parameter_names(document, path, operation) + body_field_names(document, operation):
            assert f"`{name}`" in part, f"{method.upper()} {path}: {name}"
        for status in operation["responses"]:
            assert f"| {status} |" in part, f"{method.upper()} {path}: {status}"
        errors = [s for s in operation["responses"] if s[0] in "45"]
        if errors:
            assert f"Error codes: {', '.join(errors)}." in part
    assert text.count("\n### ") == len(operations(document))
    assert "rate_limited" in text and "validation_error" in text


def test_html_lists_every_operation_with_its_parameters_body_fields_and_responses(document):
    page = apidocs.render_html(document)
    for method, path, operation in operations(document):
        part = section(page, f'<article id="op-{operation["operationId"]}">', "<article ")
        assert f"<code>{html.escape(path)}</code>" in part and f">{method.upper()}<" in part
        for name in parameter_names(document, path, operation) + body_field_names(document, operation):
            assert f"<code>{html.escape(name)}</code>" in part, f"{method.upper()} {path}: {name}"
        for status in operation["responses"]:
            assert f">{status}</span>" in part, f"{method.upper()} {path}: {status}"
        assert f'href="#op-{operation["operationId"]}"' in page  # in the table of contents


def test_html_runs_under_a_strict_content_security_policy(document):
    page = apidocs.render_html(document)
    assert "<script" not in page.lower()
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", page, re.IGNORECASE), "nothing inline"
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", page), "nothing from another origin"
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page)
    assert stylesheets == [apidocs.STYLESHEET]
    assert static_file(apidocs.STYLESHEET.removeprefix("/static/")) is not None


def test_html_escapes_what_the_document_says(document):
    document = {**document, "info": {**document["info"], "description": "Use <b>this</b> & `that`"}}
    page = apidocs.render_html(document)
    assert "Use &lt;b&gt;this&lt;/b&gt; &amp; <code>that</code>" in page


@pytest.mark.parametrize(
    "schema, reading",
    [
        ({"$ref": "#/components/schemas/Task"}, "Task"),
        ({"type": ["string", "null"], "format": "date-time"}, "string (date-time) or null"),
        ({"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "integer, 1-100, default `20`"),
        ({"type": "array", "items": {"type": "string"}, "maxItems": 10}, "array of string, at most 10 items"),
        ({"anyOf": [{"$ref": "#/components/schemas/Task"}, {"type": "null"}]}, "Task or null"),
        ({"type": "string", "enum": ["LOW", "HIGH"]}, "one of `LOW`, `HIGH`"),
    ],
)
def test_schemas_read_as_short_type_descriptions(document, schema, reading):
    assert apidocs.describe_type(document, schema) == reading


def test_the_command_prints_markdown_and_writes_html_to_a_file(tmp_path):
    command = [sys.executable, "-c", "from streams.app import main; main()", "api-docs"]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BROKER_URL")}
    printed = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
                             stdin=subprocess.DEVNULL)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == apidocs.markdown(openapi_document())
    target = tmp_path / "reference.html"
    written = subprocess.run([*command, "--format", "html", "--output", str(target)], capture_output=True,
                             text=True, timeout=120, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert written.returncode == 0, written.stderr
    assert target.read_text(encoding="utf-8") == apidocs.render_html(openapi_document())
    refused = subprocess.run([*command, "--output", str(tmp_path / "missing" / "x.md")], capture_output=True,
                             text=True, timeout=120, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert refused.returncode != 0 and "cannot write" in refused.stderr
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["reference.html"], "nothing else left behind"
