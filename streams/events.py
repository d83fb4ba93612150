"""The wire contract: topic names, and every payload on them, built and decoded in one place.

Pure (no app, topic or table objects), so `db/` builds its outbox payloads with it and the agents
decode with it. The JSON Schemas in `streams/schemas/` describe the same shapes for data engineers;
the README's topic table lists them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Optional

import faust

# Topics ------------------------------------------------------------------------------------------

#: Every task change, as an envelope (key = user_id).
TASK_EVENTS = "task-events"
#: One user's due reminder window (key = user_id), from the schedule's timer to the notifier.
REMINDERS = "reminders"
#: "This task's reminders changed" (key = user_id), written through the outbox by the API.
REMINDER_SCHEDULE = "reminder-schedule"
#: Client-ready updates (key = user_id) for every worker's WebSocket gateway.
TASK_UPDATES = "task-updates"
#: Messages a consumer could not handle, as received, with the dead-letter headers below.
TASK_EVENTS_DLQ = "task-events-dlq"

#: Topics the application owns, created by `taskstream dev` and declared by workers.
TOPICS = (TASK_EVENTS, REMINDERS, REMINDER_SCHEDULE, TASK_UPDATES, TASK_EVENTS_DLQ)

# Values shared by the payloads and the database ---------------------------------------------------

SCHEMA_VERSION = 1
EVENT_TYPES = ("created", "updated", "completed", "uncompleted", "deleted")
PRIORITIES = ("LOW", "MEDIUM", "HIGH")


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 in UTC ending in Z (None stays None): how every instant is written on the wire."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def instant(dt: datetime) -> str:
    """A decoded envelope's time as it arrived: a UTC offset is written Z, any other is kept."""
    return dt.isoformat().replace("+00:00", "Z")


class UndecodableEvent(ValueError):
    """A message on a topic that is not the payload the topic carries."""


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


def encode(payload: dict[str, Any]) -> bytes:
    """A payload's bytes on the wire."""
    return json.dumps(payload).encode()


# task-events: the envelope ------------------------------------------------------------------------


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


def decode_event(value: bytes | None) -> TaskEventRecord:
    """Decode and validate an envelope; raise UndecodableEvent saying what is wrong."""
    data = message_json(value)
    if data.get("event_type") not in EVENT_TYPES:
        raise UndecodableEvent(f"unknown event_type {data.get('event_type')!r}")
    try:
        return TaskEventRecord.from_data(data)
    except Exception as exc:  # faust raises several types for missing/ill-typed fields
        raise UndecodableEvent(f"invalid envelope: {exc}") from None


# task-updates: what WebSocket clients receive -----------------------------------------------------


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


def client_update_for(event: TaskEventRecord) -> dict[str, Any]:
    """The client update of a decoded envelope: the change and the user's sequence number to resume from."""
    return client_update(
        event_type=event.event_type, seq=event.seq, event_id=event.event_id, task_id=event.task_id,
        before=event.before, after=event.after, changes=event.changes, occurred_at=instant(event.occurred_at),
    )



def notification_json(row: Any) -> dict[str, Any]:
    """A notification as clients see it: in the inbox, in its update on task-updates, in webhooks."""
    return {
        "id": str(row.id),
        "kind": row.kind,
        "title": row.title,
        "body": row.body,
        "data": row.data,
        "reminder_id": str(row.reminder_id) if row.reminder_id else None,
        "read": row.read_at is not None,
        "read_at": iso(row.read_at),
        "snoozed_until": iso(row.snoozed_until),
        "created_at": iso(row.created_at),
    }


def notification_update(notification: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """The update that tells a user's devices about a new notification, or one whose snooze ended
    (no seq: not replayed)."""
    return {"type": "notification.created", "notification": notification, "occurred_at": iso(now)}


def decode_update(value: bytes | None) -> dict[str, Any]:
    """A message on task-updates, passed on to the user's sockets as it is; UndecodableEvent if not JSON."""
    return message_json(value)


# reminders: one user's due window ---------------------------------------------------------------


class UndecodableReminder(UndecodableEvent):
    """A message on `reminders` that is not {user_id, window_start, reminders: [...]} keyed by user_id."""


@dataclass(frozen=True)
class DueWindow:
    user_id: str
    reminders: list[tuple[uuid.UUID, uuid.UUID, datetime]]  # (reminder id, task id, remind_at)


def reminders_message(user_id: str, window: tuple[float, float], value: dict[str, Any]) -> dict[str, Any]:
    """What the `reminders` topic carries for one user's window ({reminder id: [task id, remind_at epoch]})."""
    return {
        "user_id": user_id,
        "window_start": iso(datetime.fromtimestamp(window[0], UTC)),
        "reminders": [
            {"reminder_id": reminder_id, "task_id": task_id, "remind_at": iso(datetime.fromtimestamp(at, UTC))}
            for reminder_id, (task_id, at) in sorted(value.items(), key=lambda item: (item[1][1], item[0]))
        ],
    }


def decode_reminders(key: bytes | None, value: bytes | None) -> DueWindow:
    """One user's due window from a `reminders` message, or UndecodableReminder saying why."""
    try:
        data = json.loads(value or b"")
        user_id = (key or b"").decode()
        if not user_id:
            raise ValueError("no key (user_id)")
        if data["user_id"] != user_id:
            raise ValueError("user_id differs from the key")
        items = []
        for item in data["reminders"]:
            remind_at = datetime.fromisoformat(item["remind_at"])
            if remind_at.tzinfo is None:
                raise ValueError("remind_at has no offset")
            items.append((uuid.UUID(item["reminder_id"]), uuid.UUID(item["task_id"]), remind_at.astimezone(UTC)))
        if not items:
            raise ValueError("no reminders")
        return DueWindow(user_id, items)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UndecodableReminder(f"not a reminders message: {exc}") from None


# reminder-schedule: "this task's reminders changed" -----------------------------------------------


def schedule_change(*, event_id: uuid.UUID, user_id: str, task_id: uuid.UUID, reason: str,
                    now: datetime) -> dict[str, Any]:
    """It carries no reminder data: the reminder agent re-reads the task's reminders from Postgres."""
    return {"event_id": str(event_id), "user_id": user_id, "task_id": str(task_id), "reason": reason,
            "occurred_at": iso(now)}


def decode_schedule_change(value: bytes | None) -> uuid.UUID:
    """The task whose reminders changed; UndecodableEvent saying why there is none."""
    try:
        return uuid.UUID(json.loads(value or b"")["task_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UndecodableEvent(f"not a reminder-schedule message: {exc}") from None


# task-events-dlq: why a message was parked ------------------------------------------------------


def dead_letter_headers(*, source: str, error: BaseException, consumer: str) -> list[tuple[str, bytes]]:
    """`error` says why (an undecodable message's reason as is; any other error with its type),
    `source` where it was read ("topic/partition/offset"), `consumer` which agent parked it."""
    reason = str(error) if isinstance(error, UndecodableEvent) else f"{type(error).__name__}: {error}"
    return [("error", reason.encode()[:1000]), ("source", source.encode()), ("consumer", consumer.encode())]
