"""Task queries and writes on the lean path: SQL prepared once per asyncpg connection, no ORM session.

Each write changes the row and appends its audit and outbox rows in one statement (db.events.record_event).
Functions take an asyncpg connection: `Database.connection()`, or `driver_connection(session)` inside a
caller's ORM transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

from .errors import Conflict, NotFound, VersionConflict
from .events import PendingEvent, record_event
from .listing import (GET_SQL, ListSpec, count_sql, cursor_token, cursor_value, few_matches_sql, list_sql,
                      needs_fuzzy)
from .serialize import task_snapshot

@dataclass(slots=True)
class TaskRow:
    """A task's columns as the API shows them (db.serialize.task_snapshot takes it like a Task)."""

    id: uuid.UUID
    user_id: str
    title: str
    description: str | None
    completed: bool
    completed_at: datetime | None
    due_date: datetime | None
    priority: str
    tags: list[str] = field(default_factory=list)
    #: An all-day task's calendar day (due_date is then the end of that day in the user's zone).
    due_day: date | None = None
    recurring_task_id: uuid.UUID | None = None
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


_ROW_COLUMNS = ", ".join(TaskRow.__dataclass_fields__)
_READ_SQL = f"SELECT {_ROW_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2"
#: Reads and conditional writes a change may take when other writes to the same task keep winning.
WRITE_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing: each task's JSON text (as PostgreSQL wrote it), the total and the next cursor."""

    tasks: list[str]
    total: int
    next_cursor: str | None


async def get_task_json(conn, user_id: str, task_id: uuid.UUID) -> tuple[str, int] | None:
    """The task's JSON text and version, or None when the user has no such task."""
    row = await conn.fetchrow(GET_SQL, task_id, user_id)
    return (row[0], row[1]) if row is not None else None


async def list_tasks(conn, user_id: str, spec: ListSpec, *, now: datetime) -> Page:
    """One page of the user's tasks; the total counts at most COUNT_CAP + 1 matches when filtered."""
    fuzzy = False
    if needs_fuzzy(spec):
        sql, args = few_matches_sql(user_id, spec, now)
        fuzzy = await conn.fetchval(sql, *args)
    sql, args = list_sql(user_id, spec, now, fuzzy=fuzzy)
    rows = await conn.fetch(sql, *args)
    if rows:
        total = rows[0][3]
    else:
        sql, args = count_sql(user_id, spec, now, fuzzy=fuzzy)
        total = await conn.fetchval(sql, *args)
    next_cursor = None
    if len(rows) > spec.limit:
        last = rows[spec.limit - 1]
        next_cursor = cursor_token(spec, cursor_value(spec, last[2]), last[1])
        rows = rows[: spec.limit]
    return Page([row[0] for row in rows], total, next_cursor)


async def create_task(conn, user_id: str, fields: dict[str, Any], *, now: datetime,
                      task_id: uuid.UUID | None = None) -> tuple[TaskRow, PendingEvent]:
    """Insert the task with its audit and outbox rows: one statement, atomic on its own. `task_id`: a
    stable id (an import's, so that importing again finds it) instead of a random one."""
    completed = bool(fields.get("completed", False))
    task = TaskRow(
        id=task_id or uuid.uuid4(),
        user_id=user_id,
        title=fields["title"],
        description=fields.get("description"),
        completed=completed,
        completed_at=now if completed else None,
        due_date=fields.get("due_date"),
        due_day=fields.get("due_day"),
        priority=fields.get("priority", "MEDIUM"),
        tags=list(fields.get("tags", [])),
        recurring_task_id=fields.get("recurring_task_id"),
        version=1,
        created_at=now,
        updated_at=now,
    )
    event = await record_event(
        conn, user_id=user_id, task_id=task.id, event_type="created", before=None,
        after=task_snapshot(task), now=now, task_write="insert", task=task,
    )
    return task, event


async def _current(conn, user_id: str, task_id: uuid.UUID, expected_version: int | None) -> TaskRow:
    row = await conn.fetchrow(_READ_SQL, task_id, user_id)
    if row is None:
        raise NotFound("task", task_id)
    task = TaskRow(*row)
    if expected_version is not None and task.version != expected_version:
        raise VersionConflict("task", task_id, expected=expected_version, current=task.version)
    return task


def _lost_every_race(task_id: uuid.UUID) -> Conflict:
    return Conflict(f"task {task_id} kept changing under {WRITE_ATTEMPTS} attempts to apply this change; "
                    "send it again", task_id=str(task_id))


async def modify_task(
    conn,
    user_id: str,
    task_id: uuid.UUID,
    mutate: Callable[[TaskRow], dict[str, Any]],
    *,
    now: datetime,
    expected_version: int | None = None,
) -> tuple[TaskRow, PendingEvent | None]:
    """Apply `mutate(task) -> {field: new value}` to the task as it is now.

    Two round trips and no explicit transaction: read the task, then one statement writes the change
    with its audit and outbox rows only if the task is still at the version read (optimistic
    concurrency); a write that lost that race reads again and recomputes (`mutate` must be pure).
    A change that alters nothing writes nothing and emits no event. Inside a caller's transaction
    that already locked the row, the first attempt always applies.
    """
    for _ in range(WRITE_ATTEMPTS):
        task = await _current(conn, user_id, task_id, expected_version)
        wanted = mutate(task)
        changed = {k: v for k, v in wanted.items() if getattr(task, k) != v}
        if not changed:
            return task, None
        before = task_snapshot(task)
        read_version = task.version
        for key, value in changed.items():
            setattr(task, key, value)
        if "completed" in changed:
            task.completed_at = now if task.completed else None
            event_type = "completed" if task.completed else "uncompleted"
        else:
            event_type = "updated"
        task.version += 1
        task.updated_at = now
        event = await record_event(
            conn, user_id=user_id, task_id=task.id, event_type=event_type, before=before,
            after=task_snapshot(task), now=now, task_write="update", task=task, read_version=read_version,
        )
        if event is not None:
            return task, event
    raise _lost_every_race(task_id)


async def delete_task(
    conn, user_id: str, task_id: uuid.UUID, *, now: datetime, expected_version: int | None = None
) -> PendingEvent:
    """Delete the task as it is now, recording its last state (optimistic, like modify_task)."""
    for _ in range(WRITE_ATTEMPTS):
        task = await _current(conn, user_id, task_id, expected_version)
        event = await record_event(
            conn, user_id=user_id, task_id=task_id, event_type="deleted", before=task_snapshot(task), after=None,
            now=now, task_write="delete", task=task, read_version=task.version,
        )
        if event is not None:
            return event
    raise _lost_every_race(task_id)
