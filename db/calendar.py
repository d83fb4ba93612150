"""Calendar feed queries: the per-user feed secret (stored hashed) and the rows a feed lists."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from .models import CalendarToken, RecurringTask, Task

#: A feed lists at most this many open tasks, the soonest due first.
FEED_TASK_LIMIT = 5000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate_token(session, user_id: str, *, now: datetime) -> str:
    """A new feed secret for the user; the previous one stops working. Only its hash is stored."""
    token = secrets.token_urlsafe(32)
    await session.execute(
        pg_insert(CalendarToken)
        .values(user_id=user_id, token_hash=token_hash(token), created_at=now)
        .on_conflict_do_update(index_elements=["user_id"], set_={"token_hash": token_hash(token), "created_at": now})
    )
    return token


async def revoke_token(session, user_id: str) -> bool:
    result = await session.execute(delete(CalendarToken).where(CalendarToken.user_id == user_id))
    return bool(result.rowcount)


async def user_for_token(session, token: str) -> str | None:
    return (
        await session.execute(select(CalendarToken.user_id).where(CalendarToken.token_hash == token_hash(token)))
    ).scalar_one_or_none()


async def feed_rows(session, user_id: str) -> tuple[list[Task], list[RecurringTask]]:
    """The user's open tasks with a due date (soonest first) and active recurring templates."""
    tasks = await session.execute(
        select(Task)
        .where(Task.user_id == user_id, Task.completed.is_(False), Task.due_date.is_not(None))
        .order_by(Task.due_date, Task.id)
        .limit(FEED_TASK_LIMIT)
    )
    templates = await session.execute(
        select(RecurringTask)
        .where(RecurringTask.user_id == user_id, RecurringTask.status == "active")
        .order_by(RecurringTask.created_at, RecurringTask.id)
    )
    return list(tasks.scalars()), list(templates.scalars())


# Every slot the schedule has passed: those that became tasks (open, done or deleted) and those skipped.
_TAKEN_SLOTS = text("""
    SELECT o.template_id, s.slot
    FROM recurrence_occurrences AS o
    CROSS JOIN LATERAL unnest(o.skipped_slots || o.slot) AS s(slot)
    WHERE o.template_id = ANY(CAST(:ids AS uuid[]))
    ORDER BY o.template_id, s.slot
""")


async def taken_slots(session, template_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[datetime]]:
    """Per template, the slots its RRULE must not offer again: a task stands for each (the feed lists it
    while it is open), or it was skipped."""
    if not template_ids:
        return {}
    taken: dict[uuid.UUID, list[datetime]] = {}
    for row in (await session.execute(_TAKEN_SLOTS, {"ids": template_ids})).all():
        taken.setdefault(row.template_id, []).append(row.slot)
    return taken
