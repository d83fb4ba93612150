"""Building blocks of the OpenAPI document: schema and parameter helpers, the Route and Resource records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ratelimit import EXEMPT_PATHS as RATE_LIMIT_EXEMPT

JSON = "application/json"
SECURITY_SCHEME = "bearerAuth"

Schema = dict[str, Any]


def ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema: Schema) -> Schema:
    """The schema or null, the 3.1 way: a type array, or anyOf for a $ref."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def described(schema: Schema, description: str) -> Schema:
    return {**schema, "description": description}


def closed_object(
    properties: dict[str, Schema], *, required: tuple[str, ...] | list[str] = (), **extra: Any
) -> Schema:
    """An object that rejects unknown members, as the API does."""
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return {**schema, **extra}


def any_case(*words: str) -> str:
    """A regex group matching any of the words in any letter case (no inline flags: ECMA-262 has none)."""

    def letters(word: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)

    return "(?:" + "|".join(letters(word) for word in words) + ")"


def comma_list(item: str) -> str:
    """A regex for a comma-separated list of `item`s: each part is trimmed and blank parts are skipped."""
    part = rf"\s*(?:{item}\s*)?"
    return rf"^{part}(?:,{part})*$"


UUID: Schema = {"type": "string", "format": "uuid"}
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}
USER_ID: Schema = {"type": "string", "minLength": 1, "maxLength": 255}
#: The server trims before checking lengths, so a value must hold a non-blank character.
NOT_BLANK = r"\S"
NULLABLE_TIMESTAMP: Schema = nullable(TIMESTAMP)

BOOLEAN_WORDS = ("true", "1", "yes", "false", "0", "no")


def choice(*words: str) -> Schema:
    """One of the words in any letter case, or empty."""
    return {"type": "string", "pattern": f"^{any_case(*words)}?$"}


BOOLEAN_QUERY = choice(*BOOLEAN_WORDS)
#: A date-time with an offset, a date (local midnight in `tz`), or empty.
INSTANT_QUERY: Schema = {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}, {"maxLength": 0}]}


def query_int(name: str, *, default: int, minimum: int, maximum: int | None = None, description: str) -> Schema:
    schema: Schema = {"type": "integer", "default": default, "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def query(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


def query_bool(name: str, description: str) -> Schema:
    return query(
        name, BOOLEAN_QUERY,
        description + " Either `true`, `1`, `yes` or `false`, `0`, `no`, in any case; left out or empty, no filter.",
    )


def query_instant(name: str, description: str) -> Schema:
    return query(
        name, INSTANT_QUERY,
        description + " An ISO-8601 date-time with a UTC offset (`2026-12-01T17:00:00+01:00`), or a date "
        "(`2026-12-01`) meaning the local midnight that starts it in `tz`. The bound is exclusive.",
    )


def not_found_rule(what: str) -> str:
    return (
        f"{what} that does not exist, that belongs to another user, or whose id is not a UUID answers 404 "
        "`not_found`, never 403: the API does not reveal which ids exist."
    )


def response(description: str, schema: Schema | None = None, **headers: str) -> Schema:
    """A response; every response carries X-Request-ID, `headers` maps names to HEADERS entries."""
    result: Schema = {
        "description": description,
        "headers": {"X-Request-ID": ref("RequestId", "headers")}
        | {name: ref(header, "headers") for name, header in headers.items()},
    }
    if schema is not None:
        result["content"] = {JSON: {"schema": schema}}
    return result


@dataclass(frozen=True)
class Route:
    """One operation. Error responses follow from what the route does, as the code behind it does:

    every route but the probes is rate limited (429); every /api route authenticates (401) and reads
    PostgreSQL (503); a body can be invalid (400)
    or too large (413); query parameters can be invalid or unknown (400); If-Match can be
    malformed (400) or stale (412); a path variable in `owned_ids` can name nothing of the caller's (404).
    """

    method: str
    path: str
    operation_id: str
    summary: str
    responses: dict[int, Schema]
    tag: str = "tasks"
    description: str = ""
    query: tuple[str, ...] = ()
    body: str | None = None
    #: Media types the body may also come as, besides JSON (`body`), and their schemas.
    other_bodies: dict[str, Schema] = field(default_factory=dict)
    conditional: bool = False
    errors: tuple[int, ...] = ()

    @property
    def authenticated(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def rate_limited(self) -> bool:
        """Every route but the probes counts against the client address's bucket (and /api routes the user's)."""
        return self.path not in RATE_LIMIT_EXEMPT

    def error_codes(self, owned_ids: tuple[str, ...]) -> list[int]:
        codes = set(self.errors)
        if self.rate_limited:
            codes.add(429)
        if self.authenticated:
            codes |= {401, 503}
        if self.body:
            codes |= {400, 413}
        if self.query:
            codes.add(400)
        if self.conditional:
            codes |= {400, 412}
        if any(f"{{{name}}}" in self.path for name in owned_ids):
            codes.add(404)
        return sorted(codes)


@dataclass(frozen=True)
class Resource:
    """What one part of the API adds to the document (one module of this package per module of web/views)."""

    routes: tuple[Route, ...] = ()
    tags: tuple[Schema, ...] = ()
    schemas: dict[str, Schema] = field(default_factory=dict)
    parameters: dict[str, Schema] = field(default_factory=dict)
    headers: dict[str, Schema] = field(default_factory=dict)
    #: Path template variable -> the parameter describing it.
    path_parameters: dict[str, str] = field(default_factory=dict)
    #: Path template variables naming something of the caller's: when it does not exist, 404.
    owned_ids: tuple[str, ...] = ()
    #: Operation that creates something -> the path variable naming it (see registry.add_links).
    creates: dict[str, str] = field(default_factory=dict)
