"""Outbox queries for the relay: claim what is left unpublished, then mark it published or failed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select, text, update

from .events import PendingEvent
from .models import OutboxMessage

#: While one relay is sending a claimed row, others leave it alone for this long.
CLAIM_LEASE = timedelta(seconds=30)


async def claim_pending(session, *, limit: int, exclude: set[int]) -> list[PendingEvent]:
    """Lease up to `limit` due rows (skipping rows another relay holds), oldest first."""
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.published_at.is_(None), OutboxMessage.next_attempt_at <= func.now())
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if exclude:
        query = query.where(OutboxMessage.id.not_in(exclude))
    rows = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(query.scalar_subquery()))
        .values(next_attempt_at=func.now() + CLAIM_LEASE)
        .returning(OutboxMessage.id, OutboxMessage.event_id, OutboxMessage.topic, OutboxMessage.key,
                   OutboxMessage.payload)
    )
    return sorted((PendingEvent(*row) for row in rows), key=lambda e: e.outbox_id)


async def mark_published(session, ids: list[int]) -> None:
    if ids:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(published_at=func.now(), last_error=None)
        )


async def mark_failed(session, ids: list[int], error: str) -> None:
    """Record the failure and push the next attempt out: 1 s, 2 s, 4 s … capped at a minute."""
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.published_at.is_(None))
            .values(
                attempts=OutboxMessage.attempts + 1,
                last_error=error[:1000],
                next_attempt_at=text("now() + make_interval(secs => least(power(2, outbox.attempts), 60))"),
            )
        )


async def backlog(session) -> tuple[int, datetime | None]:
    """How many events are unpublished, and when the oldest was written."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.published_at.is_(None))
        )
    ).one()
    return count, oldest


async def purge_published(session, *, older_than: timedelta) -> int:
    result = await session.execute(
        delete(OutboxMessage).where(
            and_(OutboxMessage.published_at.is_not(None), OutboxMessage.published_at < func.now() - older_than)
        )
    )
    return result.rowcount or 0
