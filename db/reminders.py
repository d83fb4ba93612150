"""Reminder queries: the API's reads and writes, what the schedule reads, the agent's shifts and drops."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text

from streams import events
from streams.rules.reminders import format_duration

from . import outbox
from .errors import Conflict, Invalid, NotFound
from .models import Reminder, Task
from .outbox import PendingEvent
from .serialize import iso


def reminder_json(reminder: Reminder) -> dict[str, Any]:
    return {
        "id": str(reminder.id),
        "task_id": str(reminder.task_id),
        "remind_at": iso(reminder.remind_at),
        "before_due": format_duration(reminder.before_due) if reminder.before_due is not None else None,
        "sent": reminder.sent,
        "sent_at": iso(reminder.sent_at),
        "created_at": iso(reminder.created_at),
    }


async def _open_task(session, user_id: str, task_id: uuid.UUID) -> Task:
    # FOR SHARE: completing or deleting the task waits for this insert, so the agent that drops a
    # finished task's reminders always sees the new one.
    task = (
        await session.execute(select(Task).where(Task.id == task_id, Task.user_id == user_id).with_for_update(read=True))
    ).scalar_one_or_none()
    if task is None:
        raise NotFound("task", task_id)
    return task


async def create_reminder(
    session, user_id: str, task_id: uuid.UUID, *, remind_at: datetime | None, before_due: timedelta | None,
    now: datetime,
) -> Reminder:
    """Insert a reminder for one of the user's open tasks; relative ones are computed from its due date."""
    task = await _open_task(session, user_id, task_id)
    if task.completed:
        raise Conflict(f"task {task_id} is completed; reopen it before adding reminders", field="task_id")
    if before_due is not None:
        if task.due_date is None:
            raise Invalid("before_due", f"task {task_id} has no due date, so a reminder before_due has nothing to "
                          "count from; set one, or send remind_at")
        remind_at = task.due_date - before_due
    assert remind_at is not None
    if remind_at <= now:
        raise Invalid("before_due" if before_due is not None else "remind_at",
                      f"would fire at {iso(remind_at)}, which is already past")
    reminder = Reminder(
        id=uuid.uuid4(), user_id=user_id, task_id=task_id, remind_at=remind_at, before_due=before_due,
        sent=False, created_at=now,
    )
    session.add(reminder)
    await session.flush()
    return reminder


async def task_reminders(session, user_id: str, task_id: uuid.UUID) -> list[Reminder] | None:
    """A task's reminders by time; None when the user has no such task."""
    if (await session.execute(select(Task.id).where(Task.id == task_id, Task.user_id == user_id))).first() is None:
        return None
    query = select(Reminder).where(Reminder.task_id == task_id, Reminder.user_id == user_id)
    return list((await session.execute(query.order_by(Reminder.remind_at, Reminder.id))).scalars())


async def user_reminders(session, user_id: str, *, upcoming: bool, limit: int) -> list[Reminder]:
    """The user's reminders across tasks, soonest first; `upcoming` keeps only those not sent yet."""
    query = select(Reminder).where(Reminder.user_id == user_id)
    if upcoming:
        query = query.where(Reminder.sent.is_(False))
    return list((await session.execute(query.order_by(Reminder.remind_at, Reminder.id).limit(limit))).scalars())


async def delete_reminder(session, user_id: str, reminder_id: uuid.UUID) -> uuid.UUID | None:
    """Delete one of the user's reminders; its task's id, or None when the user has no such reminder."""
    return (await session.execute(
        delete(Reminder).where(Reminder.id == reminder_id, Reminder.user_id == user_id).returning(Reminder.task_id)
    )).scalar_one_or_none()


# The schedule ------------------------------------------------------------------------------------


async def schedule_change(session, user_id: str, task_id: uuid.UUID, *, reason: str, now: datetime) -> PendingEvent:
    """Tell the reminder agent, through the outbox (so in the caller's transaction), that a task's
    reminders changed; it re-reads them from Postgres, so the message carries no reminder data."""
    event_id = uuid.uuid4()
    payload = events.schedule_change(event_id=event_id, user_id=user_id, task_id=task_id, reason=reason, now=now)
    return await outbox.enqueue(session, topic=events.REMINDER_SCHEDULE, key=user_id, payload=payload,
                                event_id=event_id, now=now)


_PENDING_FOR_TASKS = text("""
    SELECT id, user_id, task_id, remind_at FROM reminders
    WHERE task_id = ANY(CAST(:task_ids AS uuid[])) AND NOT sent
""")


async def pending_for_tasks(session, task_ids: Iterable[uuid.UUID]) -> list[Any]:
    """The unsent reminders of these tasks (id, user_id, task_id, remind_at): what the schedule should hold."""
    ids = list(task_ids)
    if not ids:
        return []
    return list((await session.execute(_PENDING_FOR_TASKS, {"task_ids": ids})).all())


_PENDING_PAGE = text("""
    SELECT id, user_id, task_id, remind_at FROM reminders
    WHERE NOT sent AND id > :after
    ORDER BY id
    LIMIT :limit
""")


async def pending_pages(database, *, page: int = 5000) -> AsyncIterator[list[Any]]:
    """Every unsent reminder, a page at a time (keyset on id): the schedule's rebuild reads these."""
    after = uuid.UUID(int=0)
    while True:
        async with database.autocommit() as session:
            rows = list((await session.execute(_PENDING_PAGE, {"after": after, "limit": page})).all())
        if rows:
            yield rows
        if len(rows) < page:
            return
        after = rows[-1].id


_OVERDUE = text("""
    SELECT DISTINCT task_id FROM reminders
    WHERE NOT sent AND remind_at <= clock_timestamp() - CAST(:grace AS interval)
    LIMIT :limit
""")


async def overdue_tasks(session, *, grace: timedelta, limit: int) -> list[uuid.UUID]:
    """Tasks with reminders overdue by more than `grace`: the schedule should have fired them by now."""
    return [row.task_id for row in (await session.execute(_OVERDUE, {"grace": grace, "limit": limit})).all()]


# The reminder agent ------------------------------------------------------------------------------

# Recomputed from the task row as it is now, not from the event, so replaying an old event is harmless.
# before_due as an exact duration (asyncpg stores a timedelta's days as calendar days), as Python counts it.
_SHIFT = text("""
    UPDATE reminders AS r
    SET remind_at = t.due_date - make_interval(secs => extract(epoch FROM r.before_due))
    FROM tasks AS t
    WHERE t.id = r.task_id AND r.task_id = :task_id AND r.before_due IS NOT NULL AND NOT r.sent
      AND t.due_date IS NOT NULL AND r.remind_at <> t.due_date - make_interval(secs => extract(epoch FROM r.before_due))
""")

# A relative reminder whose task lost its due date has nothing left to count from.
_DROP_UNANCHORED = text("""
    DELETE FROM reminders AS r USING tasks AS t
    WHERE t.id = r.task_id AND r.task_id = :task_id AND r.before_due IS NOT NULL AND NOT r.sent
      AND t.due_date IS NULL
""")

_DROP_FINISHED = text("""
    DELETE FROM reminders AS r
    WHERE r.task_id = :task_id AND NOT r.sent
      AND NOT EXISTS (SELECT 1 FROM tasks AS t WHERE t.id = r.task_id AND NOT t.completed)
""")


async def follow_due_date(session, task_id: uuid.UUID) -> tuple[int, int]:
    """Move relative reminders to the task's current due date; (moved, dropped)."""
    moved = (await session.execute(_SHIFT, {"task_id": task_id})).rowcount or 0
    dropped = (await session.execute(_DROP_UNANCHORED, {"task_id": task_id})).rowcount or 0
    return moved, dropped


async def drop_if_finished(session, task_id: uuid.UUID) -> int:
    """Delete the unsent reminders of a task that is completed or gone (checked against the row, not the event)."""
    return (await session.execute(_DROP_FINISHED, {"task_id": task_id})).rowcount or 0
