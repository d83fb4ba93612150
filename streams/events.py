"""Event envelopes on `task-events`: the record agents decode and the pure builder writers use."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Optional

import faust

SCHEMA_VERSION = 1
EVENT_TYPES = ("created", "updated", "completed", "uncompleted", "deleted")


class TaskEventRecord(faust.Record, serializer="json", validation=True, isodates=True):
    """One task mutation as published on `task-events` (key = user_id)."""

    event_id: str
    event_type: str
    occurred_at: datetime
    user_id: str
    task_id: str
    seq: int
    before: Optional[dict]
    after: Optional[dict]
    changes: dict
    schema_version: int = SCHEMA_VERSION


class UndecodableEvent(ValueError):
    """A message on an event topic that is not a valid envelope."""


def changes_between(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Field-by-field differences: {field: {"from": old, "to": new}} for every field that changed."""
    before = before or {}
    after = after or {}
    changed: dict[str, dict[str, Any]] = {}
    for key in sorted(set(before) | set(after)):
        if key in ("updated_at", "version"):
            continue
        old, new = before.get(key), after.get(key)
        if old != new:
            changed[key] = {"from": old, "to": new}
    return changed


def build_envelope(
    *,
    event_id: str,
    event_type: str,
    occurred_at: str,
    user_id: str,
    task_id: str,
    seq: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "user_id": user_id,
        "task_id": task_id,
        "seq": seq,
        "before": before,
        "after": after,
        "changes": changes_between(before, after),
        "schema_version": SCHEMA_VERSION,
    }


def client_update(
    *, event_type: str, seq: int, event_id: str, task_id: str, before: dict | None, after: dict | None,
    changes: dict, occurred_at: str,
) -> dict[str, Any]:
    """What a client receives for one change: the task as it is now and the user's sequence number."""
    return {
        "type": f"task.{event_type}",
        "seq": seq,
        "event_id": event_id,
        "task_id": task_id,
        "task": after if after is not None else before,
        "changes": changes,
        "occurred_at": occurred_at,
    }


def message_json(value: bytes | None) -> dict[str, Any]:
    """A message's JSON object; raise UndecodableEvent saying why there is none."""
    if value is None:
        raise UndecodableEvent("empty message (tombstone)")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UndecodableEvent(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UndecodableEvent("not a JSON object")
    return data


def decode_event(value: bytes | None) -> TaskEventRecord:
    """Decode and validate an envelope; raise UndecodableEvent saying what is wrong."""
    data = message_json(value)
    if data.get("event_type") not in EVENT_TYPES:
        raise UndecodableEvent(f"unknown event_type {data.get('event_type')!r}")
    try:
        return TaskEventRecord.from_data(data)
    except Exception as exc:  # faust raises several types for missing/ill-typed fields
        raise UndecodableEvent(f"invalid envelope: {exc}") from None
