"""Audit rows and outbox rows, written in the same transaction as the change they record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text

from streams.events import build_envelope

from .models import OutboxMessage, TaskEvent
from .serialize import iso

TASK_EVENTS_TOPIC = "task-events"

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


_NEXT_SEQ = text(
    "INSERT INTO user_sequences (user_id, last_seq) VALUES (:user_id, 1) "
    "ON CONFLICT (user_id) DO UPDATE SET last_seq = user_sequences.last_seq + 1 "
    "RETURNING last_seq"
)


async def record_event(
    session,
    *,
    user_id: str,
    task_id: uuid.UUID,
    event_type: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> PendingEvent:
    """Append the audit row and the outbox row for one change (inside the caller's transaction).

    The per-user sequence row stays locked until commit, so sequence order is commit order:
    a client resuming from seq N never misses a change committed after it.
    """
    seq = (await session.execute(_NEXT_SEQ, {"user_id": user_id})).scalar_one()
    event_id = uuid.uuid4()
    envelope = build_envelope(
        event_id=str(event_id),
        event_type=event_type,
        occurred_at=iso(now),
        user_id=user_id,
        task_id=str(task_id),
        seq=seq,
        before=before,
        after=after,
    )
    await session.execute(
        insert(TaskEvent).values(
            id=event_id,
            user_id=user_id,
            seq=seq,
            task_id=task_id,
            event_type=event_type,
            event_data={"before": before, "after": after, "changes": envelope["changes"]},
            occurred_at=now,
        )
    )
    outbox_id = (
        await session.execute(
            insert(OutboxMessage)
            .values(
                event_id=event_id,
                topic=TASK_EVENTS_TOPIC,
                key=user_id,
                payload=envelope,
                created_at=now,
                next_attempt_at=now + PUBLISH_LEASE,
            )
            .returning(OutboxMessage.id)
        )
    ).scalar_one()
    return PendingEvent(outbox_id, event_id, TASK_EVENTS_TOPIC, user_id, envelope)


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
