"""The outbox: the one statement that writes its rows, and the relay's claims, confirmations and failures."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, text, update

from .models import OutboxMessage

#: The writer publishes right after commit; the relay leaves a row alone this long before
#: treating it as left behind (e.g. the process died between commit and publish).
PUBLISH_LEASE = timedelta(seconds=10)


@dataclass(frozen=True)
class PendingEvent:
    """An outbox row to publish: what the relay sends and then marks published."""

    outbox_id: int
    event_id: uuid.UUID
    topic: str
    key: str
    payload: dict[str, Any]


def insert_statement(rows: str, *, returning: str = "id") -> str:
    """The SQL that writes outbox rows. `rows` is a VALUES list or a SELECT giving, in order,
    event_id, topic, key, payload (jsonb), created_at and next_attempt_at; the task writes use a
    SELECT so their outbox row goes in the same statement as the task and audit rows."""
    return (f"INSERT INTO outbox (event_id, topic, key, payload, created_at, next_attempt_at)\n    {rows}\n"
            f"    RETURNING {returning}")


_ENQUEUE = text(insert_statement(
    "VALUES (:event_id, :topic, :key, CAST(:payload AS jsonb), :now, :next_attempt_at)"))


async def enqueue(session, *, topic: str, key: str, payload: dict[str, Any], event_id: uuid.UUID,
                  now: datetime) -> PendingEvent:
    """Write one message for `topic` to the outbox, in the caller's transaction: it is published
    exactly when the change it reports commits. Hand the result to the relay after commit."""
    outbox_id = (await session.execute(_ENQUEUE, {
        "event_id": event_id, "topic": topic, "key": key, "payload": json.dumps(payload), "now": now,
        "next_attempt_at": now + PUBLISH_LEASE,
    })).scalar_one()
    return PendingEvent(outbox_id, event_id, topic, key, payload)


#: While one relay is sending a claimed row, others leave it alone for this long.
CLAIM_LEASE = timedelta(seconds=30)


async def any_due(session) -> bool:
    """Whether any row is unpublished and due: one read, so an idle relay's sweep costs little."""
    due = exists().where(OutboxMessage.published_at.is_(None), OutboxMessage.next_attempt_at <= func.now())
    return bool((await session.execute(select(due))).scalar())


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
