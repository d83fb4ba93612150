"""Task queries and writes: each write changes the row and appends its audit and outbox rows atomically."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select

from .errors import NotFound, VersionConflict
from .events import PendingEvent, record_event
from .listing import ListSpec, encode_cursor, list_query
from .models import Task
from .serialize import task_snapshot

#: Fields a client may change through the API.
MUTABLE_FIELDS = ("title", "description", "due_date", "priority", "tags", "completed")


async def get_task(session, user_id: str, task_id: uuid.UUID) -> Task | None:
    return (
        await session.execute(select(Task).where(Task.id == task_id, Task.user_id == user_id))
    ).scalar_one_or_none()


async def list_tasks(
    session, user_id: str, spec: ListSpec, *, now: datetime
) -> tuple[list[Any], int, str | None]:
    """One page of the user's tasks (rows with task attributes), the total that match (at most
    COUNT_CAP + 1 when filtered: the caller reports a larger count as not exact), and the next cursor."""
    page, count = list_query(user_id, spec, now)
    connection = await session.connection()  # Core execution: rows, no ORM instances
    tasks = (await connection.execute(page)).all()
    total = tasks[0].total if tasks else (await connection.execute(count)).scalar_one()
    next_cursor = None
    if len(tasks) > spec.limit:
        last = tasks[spec.limit - 1]
        next_cursor = encode_cursor(spec, last, last.sort_key)
    return tasks[: spec.limit], total, next_cursor


async def create_task(session, user_id: str, fields: dict[str, Any], *, now: datetime) -> tuple[Task, PendingEvent]:
    """Insert the task and record its `created` event: two statements in the caller's transaction."""
    completed = bool(fields.get("completed", False))
    task = Task(
        id=uuid.uuid4(),
        user_id=user_id,
        title=fields["title"],
        description=fields.get("description"),
        due_date=fields.get("due_date"),
        due_day=fields.get("due_day"),
        priority=fields.get("priority", "MEDIUM"),
        tags=list(fields.get("tags", [])),
        completed=completed,
        completed_at=now if completed else None,
        recurring_task_id=fields.get("recurring_task_id"),
        version=1,
        created_at=now,
        updated_at=now,
    )
    # The row, its audit row and its outbox row in one statement; the transient Task above is what
    # the caller serialises (nothing needs to come back from the database).
    event = await record_event(
        session, user_id=user_id, task_id=task.id, event_type="created", before=None,
        after=task_snapshot(task), now=now, task_write="insert", task=task,
    )
    return task, event


async def _locked(session, user_id: str, task_id: uuid.UUID, expected_version: int | None) -> Task:
    task = (
        await session.execute(select(Task).where(Task.id == task_id, Task.user_id == user_id).with_for_update())
    ).scalar_one_or_none()
    if task is None:
        raise NotFound("task", task_id)
    if expected_version is not None and task.version != expected_version:
        raise VersionConflict("task", task_id, expected=expected_version, current=task.version)
    return task


async def modify_task(
    session,
    user_id: str,
    task_id: uuid.UUID,
    mutate: Callable[[Task], dict[str, Any]],
    *,
    now: datetime,
    expected_version: int | None = None,
) -> tuple[Task, PendingEvent | None]:
    """Apply `mutate(task) -> {field: new value}` under a row lock.

    A change that alters nothing writes nothing and emits no event. Locks are taken in one order
    across the app: a recurring template, then its tasks (by id), then the user's sequence row
    (record_event); a caller changing several tasks locks them all before the first write.
    """
    task = await _locked(session, user_id, task_id, expected_version)
    wanted = mutate(task)
    changed = {k: v for k, v in wanted.items() if getattr(task, k) != v}
    if not changed:
        return task, None
    before = task_snapshot(task)
    # Detached, so the ORM does not flush it: record_event writes the row in its own statement.
    session.expunge(task)
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
        session, user_id=user_id, task_id=task.id, event_type=event_type, before=before,
        after=task_snapshot(task), now=now, task_write="update", task=task,
    )
    return task, event


async def delete_task(
    session, user_id: str, task_id: uuid.UUID, *, now: datetime, expected_version: int | None = None
) -> PendingEvent:
    task = await _locked(session, user_id, task_id, expected_version)
    before = task_snapshot(task)
    session.expunge(task)
    return await record_event(
        session, user_id=user_id, task_id=task_id, event_type="deleted", before=before, after=None, now=now,
        task_write="delete", task=task,
    )
