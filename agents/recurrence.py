"""Recurrence agent: when an occurrence of a recurring task is completed or deleted, create the next one.

Thin by design: decode the envelope, keep only finished occurrences, and hand a batch to
db.expansion.expand (one transaction: dedupe by event id, claim the slot, create the task with its
audit and outbox rows); after commit the new events go to the outbox relay. The maths is in
streams.rules.recurrence. Delivery is at-least-once; effects are exactly-once (see db/expansion.py).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from db import expansion
from db.expansion import Finish
from db.serialize import iso
from streams import metrics
from streams.app import app
from streams.batches import take_batches
from streams.events import UndecodableEvent, message_json
from streams.settings import get_settings
from streams.topics import task_events

from .failures import Consumer, source

log = logging.getLogger(__name__)
consumer = Consumer(expansion.CONSUMER)

#: Up to this many events share one transaction; an idle stream waits WITHIN seconds for company,
#: which bounds the latency a batch adds.
BATCH = 500
WITHIN = 0.01
#: A processed event id is kept this much longer than the topic keeps the event.
DEDUPE_MARGIN = timedelta(days=1)
MIN_DEDUPE_WINDOW = timedelta(days=7)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _uuid(value: Any, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        raise UndecodableEvent(f"{name} is not a UUID: {value!r}") from None


def finish_from_envelope(data: Any, source: str = "") -> Finish | None:
    """The finished occurrence an event reports, or None when the event is not about one.

    An occurrence is finished when it is completed (the next due time may depend on when) or deleted
    (the schedule goes on without it). Raises UndecodableEvent for an envelope missing what it needs.
    """
    if not isinstance(data, dict):
        raise UndecodableEvent("not a JSON object")
    event_type = data.get("event_type")
    if event_type not in ("completed", "deleted"):
        return None
    snapshot = data.get("after") if event_type == "completed" else data.get("before")
    if not isinstance(snapshot, dict):
        raise UndecodableEvent(f"a {event_type} event without its {'after' if event_type == 'completed' else 'before'}")
    template = snapshot.get("recurring_task_id")
    if template is None:
        return None
    completed_at = None
    if event_type == "completed":
        raw = snapshot.get("completed_at")
        try:
            completed_at = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            completed_at = None
        if completed_at is None or completed_at.tzinfo is None:
            raise UndecodableEvent(f"completed_at is not an ISO-8601 instant: {raw!r}")
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise UndecodableEvent("user_id is missing")
    return Finish(
        event_id=_uuid(data.get("event_id"), "event_id"),
        user_id=user_id,
        template_id=_uuid(template, "recurring_task_id"),
        task_id=_uuid(data.get("task_id"), "task_id"),
        completed_at=completed_at,
        source=source,
    )


def finish_from_message(value: bytes | None, source: str) -> Finish | None:
    return finish_from_envelope(message_json(value), source)


async def expand(finishes: list[Finish]) -> expansion.Expansion:
    """One transaction for the batch; after commit the new events go to the outbox relay."""
    async with app.database.transaction() as session:
        result = await expansion.expand(session, finishes, now=utc_now())
    metrics.OCCURRENCES_CREATED.inc(len(result.created))
    app.outbox.enqueue(result.events)
    report(result)
    return result


def report(result: expansion.Expansion) -> None:
    for created in result.created:
        planned = created.planned
        if planned.skipped:
            log.info(
                "recurring task %s: %d%s slot(s) already past were skipped; the next occurrence (task %s) is due %s",
                planned.template.id, len(planned.skipped),
                "+" if planned.skipped_truncated else "", created.task.id, iso(planned.slot),
            )
    for template_id in result.ended:
        log.info("recurring task %s has ended: its rule gives no further occurrence", template_id)
    for finish in result.duplicates:
        log.info("event %s from %s was applied before (a replay); nothing to do", finish.event_id, finish.source)
    for planned in result.taken:
        log.info("recurring task %s: slot %s was already taken by another transaction", planned.template.id,
                 iso(planned.slot))
    for finish, reason in result.ignored:
        log.debug("event %s from %s: %s", finish.event_id, finish.source, reason)


@app.agent(task_events)
async def expand_recurrences(stream):
    async for events in take_batches(stream, BATCH, WITHIN):
        batch = await consumer.decode(events, lambda message: finish_from_message(message.value, source(message)))
        await consumer.process(batch, expand, what="creating the next occurrences")


@app.timer(interval=3600.0, on_leader=True)
async def purge_processed_events() -> None:
    """Keep the dedupe table as small as the replay window allows."""
    keep = max(timedelta(hours=get_settings().topic_retention_hours), MIN_DEDUPE_WINDOW) + DEDUPE_MARGIN
    try:
        async with app.database.transaction() as session:
            removed = await expansion.purge_processed(session, expansion.CONSUMER, before=utc_now() - keep)
    except Exception as exc:
        log.warning("purging processed event ids of %s failed: %s", expansion.CONSUMER, exc)
        return
    if removed:
        log.info("forgot %d processed event ids older than %s", removed, keep)
