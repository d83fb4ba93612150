"""Recurrence agent: when an occurrence of a recurring task is completed or deleted, create the next one.

Thin by design: decode the envelope, keep only finished occurrences, and hand a batch to
db.expansion.expand (one transaction: dedupe by event id, claim the slot, create the task with its
audit and outbox rows); after commit the new events go to the outbox relay. The maths is in
streams.rules.recurrence. Delivery is at-least-once; effects are exactly-once (see db/expansion.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exc as sa_exc

from db import expansion
from db.expansion import Finish
from db.serialize import iso
from streams.app import app
from streams.events import UndecodableEvent, message_json
from streams.settings import get_settings
from streams.topics import task_events, task_events_dlq

log = logging.getLogger(__name__)

#: Up to this many events share one transaction; an idle stream waits WITHIN seconds for company,
#: which bounds the latency a batch adds.
BATCH = 500
WITHIN = 0.01
#: Deadlocks and serialization failures are retried this many times before the batch is split.
CONFLICT_RETRIES = 5
MAX_BACKOFF = 5.0
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


def _failure_kind(exc: BaseException) -> str | None:
    """'conflict' (retry now), 'unavailable' (retry after a pause) or None (a real error)."""
    if isinstance(exc, sa_exc.DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or ""
        if state in ("40P01", "40001"):  # deadlock detected, serialization failure
            return "conflict"
        if exc.connection_invalidated or isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return "unavailable"
        # 57014: cancelled by DATABASE_STATEMENT_TIMEOUT_MS: the database is slow, the event is fine.
        if state.startswith("08") or state in ("57P01", "57P02", "57P03", "53300", "57014"):
            return "unavailable"
        return None
    if isinstance(exc, (ConnectionError, OSError, asyncio.TimeoutError, sa_exc.TimeoutError)):
        return "unavailable"
    return None


def _sources(finishes: list[Finish]) -> str:
    shown = ", ".join(f.source for f in finishes[:3])
    return shown + (f" and {len(finishes) - 3} more" if len(finishes) > 3 else "")


async def _expand(finishes: list[Finish]) -> expansion.Expansion:
    """One transaction; retried while the database is unreachable (the events must not be lost)."""
    conflicts = 0
    delay = 0.1
    while True:
        try:
            async with app.database.transaction() as session:
                return await expansion.expand(session, finishes, now=utc_now())
        except Exception as exc:
            kind = _failure_kind(exc)
            if kind == "conflict" and conflicts < CONFLICT_RETRIES:
                conflicts += 1
                log.info("lock conflict applying %d events from %s (attempt %d); retrying",
                         len(finishes), _sources(finishes), conflicts)
                continue
            if kind != "unavailable":
                raise
            log.warning("database unavailable (%s) applying %d events from %s; retrying in %.1f s",
                        type(exc).__name__, len(finishes), _sources(finishes), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)


async def dead_letter(message: Any, finish: Finish, error: Exception) -> None:
    await task_events_dlq.send(
        key=message.key,
        value=message.value,
        headers={
            "error": f"{type(error).__name__}: {error}".encode()[:1000],
            "source": finish.source.encode(),
            "consumer": expansion.CONSUMER.encode(),
        },
    )


async def apply(batch: list[tuple[Finish, Any]]) -> None:
    """Apply a batch; on an error that is not the database being away, retry its events one by one."""
    finishes = [finish for finish, _ in batch]
    try:
        result = await _expand(finishes)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if len(batch) > 1:
            log.warning("applying %d events from %s failed (%s: %s); applying them one at a time",
                        len(batch), _sources(finishes), type(exc).__name__, exc)
            for item in batch:
                await apply([item])
            return
        finish, message = batch[0]
        log.exception(
            "could not create the occurrence after task %s (recurring task %s, event %s) from %s; sent to %s",
            finish.task_id, finish.template_id, finish.event_id, finish.source, task_events_dlq.get_topic_name(),
        )
        try:
            await dead_letter(message, finish, exc)
        except Exception as dlq_error:
            log.error("could not dead-letter event %s from %s either: %s", finish.event_id, finish.source, dlq_error)
        return
    app.outbox.enqueue(result.events)
    report(result)


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
    async for events in stream.take_events(BATCH, WITHIN):
        batch: list[tuple[Finish, Any]] = []
        for event in events:
            message = event.message
            source = f"{message.topic}/{message.partition}/{message.offset}"
            try:
                finish = finish_from_message(message.value, source)
            except UndecodableEvent as exc:
                # fan_out_updates reads the same messages and dead-letters undecodable ones;
                # a second copy from here would only duplicate them.
                log.warning("skipping a message at %s this agent cannot use: %s", source, exc)
                continue
            if finish is not None:
                batch.append((finish, message))
        if batch:
            await apply(batch)


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
