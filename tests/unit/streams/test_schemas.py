"""Tests for the wire-contract JSON Schemas: what the writers publish validates, malformed messages do not."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from db.models import Task
from db.serialize import iso, task_snapshot
from streams.events import EVENT_TYPES, build_envelope, decode_event
from streams.events import client_update_for as client_update
from streams.schemas import load_schemas, task_update_validator, validator_for

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
TASK_ID = uuid.UUID("0b7f8a52-8d4e-4c1e-9a57-2f0c6e1d3b44")


def snapshot(**changes: Any) -> dict[str, Any]:
    """A task as the database would hold it, with `changes` applied."""
    fields: dict[str, Any] = {
        "id": TASK_ID,
        "user_id": "alice",
        "title": "File the quarterly report",
        "description": None,
        "completed": False,
        "completed_at": None,
        "due_date": T0 + timedelta(days=5),
        "priority": "MEDIUM",
        "tags": ["work"],
        "recurring_task_id": None,
        "version": 1,
        "created_at": T0,
        "updated_at": T0,
    }
    return task_snapshot(Task(**{**fields, **changes}))


def lifecycle() -> dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """(before, after) for one change of each type, in the order they happen to a task."""
    created = snapshot()
    updated = snapshot(title="File the Q4 report", priority="HIGH", tags=["work", "finance"], version=2,
                       updated_at=T0 + timedelta(hours=1))
    done_at = T0 + timedelta(days=1)
    completed = snapshot(title="File the Q4 report", priority="HIGH", tags=["work", "finance"], version=3,
                         completed=True, completed_at=done_at, updated_at=done_at)
    reopened = snapshot(title="File the Q4 report", priority="HIGH", tags=["work", "finance"], version=4,
                        updated_at=done_at + timedelta(minutes=5))
    return {
        "created": (None, created),
        "updated": (created, updated),
        "completed": (updated, completed),
        "uncompleted": (completed, reopened),
        "deleted": (reopened, None),
    }


def envelope(event_type: str, seq: int = 1) -> dict[str, Any]:
    before, after = lifecycle()[event_type]
    return build_envelope(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        occurred_at=iso(T0 + timedelta(days=2, microseconds=123456)),
        user_id="alice",
        task_id=str(TASK_ID),
        seq=seq,
        before=before,
        after=after,
    )


def errors(validator: Any, instance: Any) -> list[str]:
    return [error.message for error in validator.iter_errors(instance)]


# The files themselves -------------------------------------------------------------------------


def test_every_schema_file_is_a_valid_draft_2020_12_schema_named_by_its_id():
    schemas = load_schemas()
    expected = {f"task-event.{kind}.json" for kind in EVENT_TYPES} | {"task.json", "task-update.json"}
    expected |= {"reminder.json", "notification-update.json"}
    assert set(schemas) == expected
    for name, schema in schemas.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        assert schema["$id"] == name
        Draft202012Validator.check_schema(schema)


def test_task_schema_lists_exactly_the_fields_task_snapshot_produces():
    task = load_schemas()["task.json"]
    assert set(task["properties"]) == set(snapshot())
    assert set(task["required"]) == set(snapshot())


def test_validator_for_an_unknown_event_type_says_which_types_exist():
    with pytest.raises(ValueError, match="archived.*created"):
        validator_for("archived")


# What the writers publish on task-events ------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_envelopes_built_by_build_envelope_validate_against_their_type(event_type):
    assert errors(validator_for(event_type), envelope(event_type, seq=7)) == []


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_an_envelope_is_rejected_by_every_other_event_types_schema(event_type):
    message = envelope(event_type)
    for other in EVENT_TYPES:
        if other != event_type:
            assert errors(validator_for(other), message), f"a {event_type} envelope passed as {other}"


def test_created_event_with_a_before_is_rejected():
    message = envelope("created")
    message["before"] = message["after"]
    assert errors(validator_for("created"), message)


def test_deleted_event_with_an_after_is_rejected():
    message = envelope("deleted")
    message["after"] = message["before"]
    assert errors(validator_for("deleted"), message)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_envelope_without_event_id_is_rejected(event_type):
    message = envelope(event_type)
    del message["event_id"]
    assert "'event_id' is a required property" in errors(validator_for(event_type), message)


@pytest.mark.parametrize(
    "field, value",
    [
        ("event_id", "not-a-uuid"),
        ("task_id", "42"),
        ("occurred_at", "2026-11-22T09:30:00"),  # no offset
        ("occurred_at", "yesterday"),
        ("user_id", ""),
        ("changes", {"title": {"from": "a"}}),
        ("changes", {"colour": {"from": None, "to": "red"}}),
        ("unexpected", True),
    ],
)
def test_envelope_with_a_malformed_field_is_rejected(field, value):
    message = envelope("updated")
    message[field] = value
    assert errors(validator_for("updated"), message)


@pytest.mark.parametrize("seq", [0, -1, "7", 1.5, None])
def test_envelope_with_a_bad_seq_is_rejected(seq):
    message = envelope("created")
    message["seq"] = seq
    assert errors(validator_for("created"), message)


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_envelope_with_another_schema_version_is_rejected(version):
    message = envelope("completed")
    message["schema_version"] = version
    assert errors(validator_for("completed"), message)


def test_envelope_whose_task_snapshot_lacks_a_field_is_rejected():
    message = envelope("created")
    del message["after"]["version"]
    assert errors(validator_for("created"), message)


def test_updated_event_that_changes_completed_is_rejected():
    message = envelope("completed")
    message["event_type"] = "updated"
    assert errors(validator_for("updated"), message)


def test_completed_event_whose_after_is_still_open_is_rejected():
    message = envelope("completed")
    message["after"] = {**message["after"], "completed": False, "completed_at": None}
    assert errors(validator_for("completed"), message)


# What the fan-out agent publishes on task-updates ---------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_client_updates_built_by_the_fan_out_agent_validate(event_type):
    record = decode_event(json.dumps(envelope(event_type, seq=3)).encode())
    update = client_update(record)
    assert update["type"] == f"task.{event_type}"
    assert errors(task_update_validator(), update) == []


@pytest.mark.parametrize(
    "field, value",
    [("type", "task.archived"), ("task", None), ("seq", 0), ("occurred_at", "2026-11-22 09:30"), ("user_id", "alice")],
)
def test_client_update_with_a_malformed_field_is_rejected(field, value):
    update = client_update(decode_event(json.dumps(envelope("updated")).encode()))
    update[field] = value
    assert errors(task_update_validator(), update)
