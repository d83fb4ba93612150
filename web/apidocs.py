"""The API reference, rendered from the OpenAPI document as Markdown (`taskstream api-docs`) or HTML (GET /docs).

Both come from one reading of the document (`reference`), so they list the same operations, parameters,
body fields, responses and error codes. The HTML is plain markup with one same-origin stylesheet: no
scripts, nothing inline, nothing from another origin, so it works offline and under `default-src 'self'`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

METHODS = ("get", "post", "put", "patch", "delete")
STYLESHEET = "/static/css/api-docs.css"


@dataclass
class Row:
    """A parameter, a body field or a response header: a name, what it takes, and what it means."""

    name: str
    kind: str
    required: bool
    description: str
    where: str = ""


@dataclass
class Answer:
    status: str
    description: str
    body: str = ""
    headers: list[Row] = field(default_factory=list)


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    tag: str
    authenticated: bool
    parameters: list[Row]
    body: str
    body_fields: list[Row]
    answers: list[Answer]

    @property
    def title(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def error_statuses(self) -> list[str]:
        return [answer.status for answer in self.answers if answer.status[0] in "45"]


@dataclass
class Reference:
    title: str
    version: str
    description: str
    tags: list[tuple[str, str]]
    operations: list[Operation]


# Reading the document ------------------------------------------------------------------------


def resolve(document: Schema, node: Schema) -> Schema:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def ref_name(node: Schema) -> str | None:
    return node["$ref"].rsplit("/", 1)[-1] if isinstance(node, dict) and "$ref" in node else None


def describe_type(document: Schema, schema: Schema) -> str:
    """A short human reading of a schema: `string (uuid)`, `integer 1-100`, `array of Task`, `Task or null`."""
    if not schema:
        return "any"
    if name := ref_name(schema):
        return name
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            # An option without a type of its own ({"format": "date"}) narrows the outer one.
            outer = {"type": schema["type"]} if "type" in schema else {}
            options = (describe_type(document, {**outer, **option}) for option in schema[combinator])
            return " or ".join(dict.fromkeys(options))
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" if value is not None else "null" for value in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        base = {**schema, "type": next((k for k in kind if k != "null"), "null")}
        return describe_type(document, base) + (" or null" if "null" in kind else "")
    if kind == "array":
        text = f"array of {describe_type(document, schema.get('items', {}))}"
        return text + (f", at most {schema['maxItems']} items" if "maxItems" in schema else "")
    text = kind or ("object" if "properties" in schema else "any")
    if "format" in schema:
        text += f" ({schema['format']})"
    low, high = schema.get("minimum", schema.get("minLength")), schema.get("maximum", schema.get("maxLength"))
    unit = " characters" if kind == "string" else ""
    if high == 0 and kind == "string":
        text += ", empty"
    elif low is not None and high is not None:
        text += f", {low}-{high}{unit}"
    elif high is not None:
        text += f", at most {high}{unit}"
    elif low is not None and (low or kind != "string"):
        text += f", at least {low}{unit}"
    if "default" in schema:
        text += f", default `{schema['default']}`"
    return text


def body_fields(document: Schema, schema: Schema) -> list[Row]:
    resolved = resolve(document, schema)
    required = set(resolved.get("required", ()))
    return [
        Row(name, describe_type(document, member), name in required, resolve(document, member).get("description", ""))
        for name, member in resolved.get("properties", {}).items()
    ]


def answer(document: Schema, status: str, node: Schema) -> Answer:
    resolved = resolve(document, node)
    content = resolved.get("content", {})
    body = ", ".join(
        f"{media}: {describe_type(document, entry.get('schema', {}))}" for media, entry in content.items()
    )
    headers = [
        Row(name, describe_type(document, resolve(document, header).get("schema", {})), False,
            resolve(document, header).get("description", ""))
        for name, header in resolved.get("headers", {}).items()
        if name != "X-Request-ID"  # on every answer; said once in the introduction
    ]
    return Answer(status, resolved.get("description", ""), body, headers)


def reference(document: Schema) -> Reference:
    """Everything the reference shows, read from the OpenAPI document."""
    operations = []
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            parameters = [resolve(document, p) for p in [*shared, *op.get("parameters", [])]]
            body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            operations.append(Operation(
                method=method,
                path=path,
                operation_id=op["operationId"],
                summary=op.get("summary", ""),
                description=op.get("description", ""),
                tag=(op.get("tags") or ["other"])[0],
                authenticated=bool(op.get("security")),
                parameters=[
                    Row(p["name"], describe_type(document, p.get("schema", {})), bool(p.get("required")),
                        p.get("description", ""), p["in"])
                    for p in parameters
                ],
                body=describe_type(document, body_schema) if body_schema else "",
                body_fields=body_fields(document, body_schema) if body_schema else [],
                answers=[answer(document, status, node) for status, node in op.get("responses", {}).items()],
            ))
    tags = [(tag["name"], tag.get("description", "")) for tag in document.get("tags", [])]
    known = {name for name, _ in tags}
    tags += [(name, "") for name in dict.fromkeys(op.tag for op in operations) if name not in known]
    info = document.get("info", {})
    return Reference(info.get("title", "API"), info.get("version", ""), info.get("description", ""), tags, operations)


def error_codes(document: Schema) -> str:
    """The Error schema's list of machine codes, as the document words it."""
    return resolve(document, {"$ref": "#/components/schemas/Error"})["properties"]["error"].get("description", "")


# Markdown ------------------------------------------------------------------------------------


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or " "


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def markdown(document: Schema) -> str:
    ref = reference(document)
    intro = f"Version {ref.version}. Generated from `/openapi.json`; every answer carries an `X-Request-ID` header."
    errors = 'Every failure is JSON `{"error", "message", "details"}`. ' + error_codes(document)
    lines = [f"# {ref.title} API reference", "", intro, "", ref.description.strip(), "", "## Errors", "", errors, ""]
    for tag, description in ref.tags:
        operations = [op for op in ref.operations if op.tag == tag]
        if not operations:
            continue
        lines += [f"## {tag}", ""] + ([description, ""] if description else [])
        for op in operations:
            lines += [f"### {op.title}", "", f"**{op.summary}** (`{op.operation_id}`)"
                      + ("; needs a bearer token." if op.authenticated else "; no authentication."), ""]
            if op.description:
                lines += [op.description, ""]
            if op.parameters:
                lines += ["Parameters:", ""] + table(
                    ("name", "in", "type", "required", "description"),
                    [(f"`{p.name}`", p.where, p.kind, "yes" if p.required else "no", p.description)
                     for p in op.parameters]) + [""]
            if op.body:
                lines += [f"Request body (`application/json`): {op.body}.", ""]
                if op.body_fields:
                    lines += table(("field", "type", "required", "description"),
                                   [(f"`{f.name}`", f.kind, "yes" if f.required else "no", f.description)
                                    for f in op.body_fields]) + [""]
            lines += ["Responses:", ""] + table(
                ("status", "description", "body", "headers"),
                [(a.status, a.description, a.body, ", ".join(f"`{h.name}`" for h in a.headers))
                 for a in op.answers]) + [""]
            if op.error_statuses:
                lines += ["Error codes: " + ", ".join(op.error_statuses) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


# HTML ----------------------------------------------------------------------------------------


def inline(text: str) -> str:
    """Escaped text with the document's Markdown spans: `code` and **bold**."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def blocks(text: str) -> str:
    """Paragraphs and `- ` lists of a description."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines and all(line.lstrip().startswith("- ") or line.startswith("  ") for line in lines):
            items, current = [], ""
            for line in lines:
                if line.lstrip().startswith("- "):
                    if current:
                        items.append(current)
                    current = line.lstrip()[2:]
                else:
                    current += " " + line.strip()
            items.append(current)
            out.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul>")
        elif block.strip():
            out.append(f"<p>{inline(' '.join(line.strip() for line in lines))}</p>")
    return "\n".join(out)


def html_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{value}</td>" for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def anchor(op: Operation) -> str:
    return f"op-{op.operation_id}"


def render_html(document: Schema) -> str:
    ref = reference(document)
    e = html.escape
    toc, sections = [], []
    for tag, description in ref.tags:
        operations = [op for op in ref.operations if op.tag == tag]
        if not operations:
            continue
        toc.append(f"<li>{e(tag)}<ul>" + "".join(
            f'<li><a href="#{anchor(op)}"><code>{e(op.title)}</code></a> {e(op.summary)}</li>' for op in operations
        ) + "</ul></li>")
        parts = [f'<section id="tag-{e(tag)}"><h2>{e(tag)}</h2>', blocks(description)]
        for op in operations:
            parts.append(f'<article id="{anchor(op)}"><h3><span class="method {op.method}">{op.method.upper()}</span> '
                         f"<code>{e(op.path)}</code></h3>")
            auth = "needs a bearer token" if op.authenticated else "no authentication"
            parts.append(f"<p><strong>{e(op.summary)}</strong> (<code>{e(op.operation_id)}</code>; {auth})</p>")
            parts.append(blocks(op.description))
            if op.parameters:
                parts.append("<h4>Parameters</h4>" + html_table(
                    ("name", "in", "type", "required", "description"),
                    [(f"<code>{e(p.name)}</code>", e(p.where), inline(p.kind), "yes" if p.required else "no",
                      blocks(p.description)) for p in op.parameters]))
            if op.body:
                parts.append(f"<h4>Request body</h4><p><code>application/json</code>: {inline(op.body)}</p>")
                if op.body_fields:
                    parts.append(html_table(
                        ("field", "type", "required", "description"),
                        [(f"<code>{e(f.name)}</code>", inline(f.kind), "yes" if f.required else "no",
                          inline(f.description)) for f in op.body_fields]))
            parts.append("<h4>Responses</h4>" + html_table(
                ("status", "description", "body", "headers"),
                [(f'<span class="status s{a.status[0]}">{e(a.status)}</span>', inline(a.description), inline(a.body),
                  ", ".join(f"<code>{e(h.name)}</code>" for h in a.headers)) for a in op.answers]))
            if op.error_statuses:
                parts.append(f"<p>Error codes: {e(', '.join(op.error_statuses))}.</p>")
            parts.append("</article>")
        parts.append("</section>")
        sections.append("\n".join(parts))
    return "\n".join([
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(ref.title)} API reference</title>",
        f'<link rel="stylesheet" href="{STYLESHEET}">',
        "</head><body>",
        (f"<header><h1>{e(ref.title)} API reference</h1><p>Version {e(ref.version)}. Generated from "
         '<a href="/openapi.json"><code>/openapi.json</code></a>; every answer carries an '
         "<code>X-Request-ID</code> header.</p></header>"),
        f"<nav><h2>Operations</h2><ul>{''.join(toc)}</ul></nav>",
        "<main>",
        f'<section id="introduction">{blocks(ref.description)}</section>',
        ('<section id="errors"><h2>Errors</h2><p>Every failure is JSON <code>{"error", "message", "details"}</code>. '
         f"{inline(error_codes(document))}</p></section>"),
        *sections,
        "</main></body></html>",
    ]) + "\n"
