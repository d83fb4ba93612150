"""JSON Schemas (draft 2020-12) of the messages on task-events, task-updates and reminders, and validators for them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.events import EVENT_TYPES

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SCHEMA_DIR = Path(__file__).resolve().parent
TASK_UPDATE = "task-update.json"


def event_schema_name(event_type: str) -> str:
    return f"task-event.{event_type}.json"


def load_schemas() -> dict[str, dict[str, Any]]:
    """Every schema in this folder by its `$id`, which is its file name, so relative `$ref`s resolve."""
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if schema.get("$id") != path.name:
            raise ValueError(f"{path}: $id must be the file name {path.name!r}, found {schema.get('$id')!r}")
        schemas[path.name] = schema
    return schemas


@cache
def validator(name: str) -> Validator:
    """A validator for the schema with this `$id`, checking formats (uuid, date-time) too."""
    # jsonschema is a test and tooling dependency, not a runtime one: import it only when asked.
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = load_schemas()
    if name not in schemas:
        raise KeyError(f"no schema {name!r} in {SCHEMA_DIR}; known: {', '.join(schemas)}")
    registry = Registry().with_resources((ident, Resource.from_contents(schema)) for ident, schema in schemas.items())
    return Draft202012Validator(schemas[name], registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def validator_for(event_type: str) -> Validator:
    """The validator of a task-events envelope of this type (`created`, `updated`, ...)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {', '.join(EVENT_TYPES)}")
    return validator(event_schema_name(event_type))


def task_update_validator() -> Validator:
    """The validator of a client-ready message on task-updates."""
    return validator(TASK_UPDATE)
