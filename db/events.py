"""Audit rows and outbox rows, written in the same transaction as the change they record."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from streams.events import TASK_EVENTS, build_envelope, client_update

from .models import TaskEvent
from .outbox import PUBLISH_LEASE, PendingEvent, insert_statement
from .serialize import iso
from .sql import positional

__all__ = ["PendingEvent", "record_event", "task_history", "event_json", "events_since", "latest_seq", "update_json"]


_TASK_COLUMNS = ("id", "user_id", "title", "description", "due_date", "due_day", "priority", "tags", "completed",
                 "completed_at", "recurring_task_id", "version", "created_at", "updated_at")
_TASK_TYPES = {"tags": "text[]", "due_date": "timestamptz", "due_day": "date", "completed_at": "timestamptz",
               "created_at": "timestamptz", "updated_at": "timestamptz", "recurring_task_id": "uuid", "id": "uuid"}


def _param(column: str) -> str:
    kind = _TASK_TYPES.get(column)
    return f"CAST(:task_{column} AS {kind})" if kind else f":task_{column}"


# The change to the task row itself, written by the same statement as its audit and outbox rows.
_TASK_WRITES = {
    None: "",
    "insert": "t AS (INSERT INTO tasks ({}) VALUES ({})),".format(
        ", ".join(_TASK_COLUMNS), ", ".join(_param(c) for c in _TASK_COLUMNS)
    ),
    # A change applies to the version it was computed from (read_version): if another write got there
    # first, nothing is written and no row comes back, and the caller reads the task again.
    "update": "t AS (UPDATE tasks SET {} WHERE id = CAST(:task_id AS uuid) AND version = :read_version RETURNING id),"
    .format(", ".join(f"{c} = {_param(c)}" for c in _TASK_COLUMNS if c not in ("id", "user_id", "created_at"))),
    "delete": "t AS (DELETE FROM tasks WHERE id = CAST(:task_id AS uuid) AND version = :read_version RETURNING id),",
}
#: Where the sequence number's row comes from: always, or only when the conditional change happened.
_SEQ_SOURCE = {None: "VALUES (:user_id, 1)", "insert": "VALUES (:user_id, 1)",
               "update": "SELECT :user_id, 1 FROM t", "delete": "SELECT :user_id, 1 FROM t"}

# One round trip: write the task, take the user's next sequence number (the row stays locked until
# commit, so sequence order is commit order), append the audit row and the outbox row with it.
# A single statement is atomic on its own, so a write needs no explicit transaction.
_RECORD = """
    WITH {task_write}
    seq AS (
        INSERT INTO user_sequences (user_id, last_seq) {seq_source}
        ON CONFLICT (user_id) DO UPDATE SET last_seq = user_sequences.last_seq + 1
        RETURNING last_seq
    ), audit AS (
        INSERT INTO task_events (id, user_id, seq, task_id, event_type, event_data, occurred_at)
        SELECT :event_id, :user_id, seq.last_seq, :event_task_id, :event_type, CAST(:event_data AS jsonb), :now
        FROM seq
    )
    {outbox_insert}
"""
_OUTBOX_INSERT = insert_statement(
    """SELECT :event_id, :topic, :user_id, jsonb_set(CAST(:payload AS jsonb), '{seq}', to_jsonb(seq.last_seq)),
           :now, :next_attempt_at
    FROM seq""",
    returning="id, (payload ->> 'seq')::bigint",
)
#: Each statement as asyncpg runs it ($n placeholders, prepared once per connection) and its argument names.
_STATEMENTS = {kind: positional(_RECORD.format(task_write=sql, seq_source=_SEQ_SOURCE[kind],
                                               outbox_insert=_OUTBOX_INSERT))
               for kind, sql in _TASK_WRITES.items()}


async def record_event(
    conn,
    *,
    user_id: str,
    task_id: uuid.UUID,
    event_type: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
    task_write: str | None = None,
    task: Any = None,
    read_version: int | None = None,
) -> PendingEvent | None:
    """Append the audit row and the outbox row for one change, in the caller's transaction if any (`conn`
    is an asyncpg connection: db.engine.Database.connection(), or driver_connection(session)).

    With `task_write` ("insert", "update" or "delete") the same statement also writes `task`'s row; an
    update or delete only if the row is still at `read_version`, else nothing is written and None returned.
    """
    event_id = uuid.uuid4()
    envelope = build_envelope(
        event_id=str(event_id),
        event_type=event_type,
        occurred_at=iso(now),
        user_id=user_id,
        task_id=str(task_id),
        seq=0,  # filled in by the database
        before=before,
        after=after,
    )
    values: dict[str, Any] = {
        "user_id": user_id,
        "event_id": event_id,
        "event_task_id": task_id,
        "event_type": event_type,
        "event_data": json.dumps({"before": before, "after": after, "changes": envelope["changes"]}),
        "payload": json.dumps(envelope),
        "topic": TASK_EVENTS,
        "now": now,
        "next_attempt_at": now + PUBLISH_LEASE,
        "read_version": read_version,
    }
    if task_write is not None:
        for column in _TASK_COLUMNS:
            values[f"task_{column}"] = getattr(task, column)
    sql, names = _STATEMENTS[task_write]
    row = await conn.fetchrow(sql, *[values[name] for name in names])
    if row is None:
        return None
    outbox_id, seq = row
    envelope["seq"] = seq
    return PendingEvent(outbox_id, event_id, TASK_EVENTS, user_id, envelope)


async def task_history(
    session, user_id: str, task_id: uuid.UUID, *, after_seq: int | None, limit: int
) -> list[TaskEvent]:
    """One task's audit rows, oldest first, scoped to the user who owns them."""
    query = select(TaskEvent).where(TaskEvent.user_id == user_id, TaskEvent.task_id == task_id)
    if after_seq is not None:
        query = query.where(TaskEvent.seq > after_seq)
    return list((await session.execute(query.order_by(TaskEvent.seq).limit(limit))).scalars())


def event_json(row: TaskEvent) -> dict[str, Any]:
    data = row.event_data
    return {
        "id": str(row.id),
        "seq": row.seq,
        "event_type": row.event_type,
        "occurred_at": iso(row.occurred_at),
        "user_id": row.user_id,
        "task_id": str(row.task_id),
        "before": data.get("before"),
        "after": data.get("after"),
        "changes": data.get("changes", {}),
    }


async def events_since(session, user_id: str, after_seq: int, limit: int, *,
                       before_seq: int | None = None) -> list[TaskEvent]:
    """The user's changes after `after_seq` (and before `before_seq`, if given), in order: what a
    reconnecting client missed, or the gap before an update that arrived ahead of earlier ones."""
    query = select(TaskEvent).where(TaskEvent.user_id == user_id, TaskEvent.seq > after_seq)
    if before_seq is not None:
        query = query.where(TaskEvent.seq < before_seq)
    return list((await session.execute(query.order_by(TaskEvent.seq).limit(limit))).scalars())


async def latest_seq(session, user_id: str) -> int:
    value = await session.scalar(text("SELECT last_seq FROM user_sequences WHERE user_id = :u"), {"u": user_id})
    return int(value or 0)


def update_json(row: TaskEvent) -> dict[str, Any]:
    """An audit row as the client update a WebSocket receives for it (streams/events.client_update)."""
    data = row.event_data
    return client_update(
        event_type=row.event_type, seq=row.seq, event_id=str(row.id), task_id=str(row.task_id),
        before=data.get("before"), after=data.get("after"), changes=data.get("changes", {}),
        occurred_at=iso(row.occurred_at),
    )
