"""Reminder queries: the API's reads and writes, the scheduler's claim, the agent's shifts and drops."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text

from streams.rules.reminders import format_duration

from .models import Reminder, Task
from .serialize import iso

#: A reminder handed to the `reminders` topic is not handed over again for this long, unless the
#: notifier has marked it sent. If the message was lost (worker killed before the send), it goes
#: out again once the lease is over; the notifier's unique key makes the second send harmless.
CLAIM_LEASE = timedelta(seconds=10)


class TaskNotFound(LookupError):
    def __init__(self, task_id: uuid.UUID) -> None:
        super().__init__(f"task {task_id} not found")
        self.task_id = task_id


class TaskFinished(Exception):
    """Reminders are for open tasks only."""

    def __init__(self, task_id: uuid.UUID) -> None:
        super().__init__(f"task {task_id} is completed; reopen it before adding reminders")
        self.task_id = task_id


class NoDueDate(Exception):
    def __init__(self, task_id: uuid.UUID) -> None:
        super().__init__(f"task {task_id} has no due date, so a reminder before_due has nothing to count from")
        self.task_id = task_id


class InThePast(Exception):
    """The reminder would fire before it was even created."""

    def __init__(self, field: str, remind_at: datetime) -> None:
        super().__init__(f"would fire at {iso(remind_at)}, which is already past")
        self.field, self.remind_at = field, remind_at


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
        raise TaskNotFound(task_id)
    return task


async def create_reminder(
    session, user_id: str, task_id: uuid.UUID, *, remind_at: datetime | None, before_due: timedelta | None,
    now: datetime,
) -> Reminder:
    """Insert a reminder for one of the user's open tasks; relative ones are computed from its due date."""
    task = await _open_task(session, user_id, task_id)
    if task.completed:
        raise TaskFinished(task_id)
    if before_due is not None:
        if task.due_date is None:
            raise NoDueDate(task_id)
        remind_at = task.due_date - before_due
    assert remind_at is not None
    if remind_at <= now:
        raise InThePast("before_due" if before_due is not None else "remind_at", remind_at)
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


async def delete_reminder(session, user_id: str, reminder_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(Reminder).where(Reminder.id == reminder_id, Reminder.user_id == user_id)
    )
    return bool(result.rowcount)


# The scheduler ----------------------------------------------------------------------------------

_CLAIM = text("""
    UPDATE reminders SET claimed_at = clock_timestamp()
    WHERE id IN (
        SELECT id FROM reminders
        WHERE NOT sent AND remind_at <= clock_timestamp()
          AND (claimed_at IS NULL OR claimed_at < clock_timestamp() - CAST(:lease AS interval))
        ORDER BY remind_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, user_id, task_id, remind_at
""")


async def claim_due(session, *, limit: int, lease: timedelta = CLAIM_LEASE) -> list[Any]:
    """Lease the reminders that are due and unsent (skipping those another worker holds), soonest first."""
    rows = (await session.execute(_CLAIM, {"lease": lease, "limit": limit})).all()
    return sorted(rows, key=lambda row: row.remind_at)


async def seconds_to_next(session) -> float | None:
    """Seconds until the next unsent reminder in the future is due (None when there is none)."""
    return (await session.execute(text(
        "SELECT CAST(extract(epoch FROM min(remind_at) - clock_timestamp()) AS float8) FROM reminders "
        "WHERE NOT sent AND remind_at > clock_timestamp()"
    ))).scalar()


# The reminder agent ------------------------------------------------------------------------------

# Recomputed from the task row as it is now, not from the event, so replaying an old event is harmless.
_SHIFT = text("""
    UPDATE reminders AS r
    SET remind_at = t.due_date - r.before_due, claimed_at = NULL
    FROM tasks AS t
    WHERE t.id = r.task_id AND r.task_id = :task_id AND r.before_due IS NOT NULL AND NOT r.sent
      AND t.due_date IS NOT NULL AND r.remind_at <> t.due_date - r.before_due
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
