"""The recurrence agent's write: finished occurrences in, next occurrences out, exactly once per slot.

One transaction per batch of events does, in this order (the order every writer takes locks in, so
concurrent batches on two workers cannot deadlock):

1. record each event id in `processed_events` (ON CONFLICT DO NOTHING): an id already there was
   applied before (a replay, or another worker got there first) and is dropped;
2. lock the templates (SELECT ... FOR UPDATE, ordered by id);
3. for each finished occurrence that is still its template's newest one, ask the pure rule for the
   next slot; none left ends the template;
4. claim each slot in `recurrence_occurrences` (ON CONFLICT DO NOTHING) and create the task of every
   slot claimed here (task row + audit row + outbox row through db.tasks.create_task).

Either all of it commits or none of it does, so a crash anywhere leaves the events to be redelivered
and applied as if for the first time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import any_, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from .events import PendingEvent
from .models import ProcessedEvent, RecurringTask
from .recurring import Created, Head, Planned, end, heads, materialise, plan_next

CONSUMER = "expand_recurrences"

_CLAIM_EVENTS = text("""
    INSERT INTO processed_events (consumer, event_id, processed_at)
    SELECT :consumer, u.event_id, :now FROM unnest(CAST(:event_ids AS uuid[])) AS u(event_id)
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING event_id
""")

_LOCK_TEMPLATES = (
    select(
        RecurringTask.id, RecurringTask.user_id, RecurringTask.title, RecurringTask.description,
        RecurringTask.priority, RecurringTask.tags, RecurringTask.rule, RecurringTask.status,
        RecurringTask.next_occurrence, RecurringTask.occurrences_created, RecurringTask.version,
        RecurringTask.updated_at, RecurringTask.reminders,
    )
    .where(RecurringTask.id == any_(bindparam("template_ids", type_=ARRAY(UUID(as_uuid=True)))))
    .order_by(RecurringTask.id)
    .with_for_update()
)

_SAVE_TEMPLATES = text("""
    UPDATE recurring_tasks AS t
    SET status = u.status, next_occurrence = u.next_occurrence, occurrences_created = u.created, updated_at = :now
    FROM unnest(CAST(:template_ids AS uuid[]), CAST(:statuses AS text[]), CAST(:nexts AS timestamptz[]),
                CAST(:counts AS integer[])) AS u(id, status, next_occurrence, created)
    WHERE t.id = u.id
""")


@dataclass
class TemplateState:
    """The columns of a locked template the agent reads and writes (lighter than an ORM instance)."""

    id: uuid.UUID
    user_id: str
    title: str
    description: str | None
    priority: str
    tags: list[str]
    rule: dict[str, Any]
    status: str
    next_occurrence: datetime | None
    occurrences_created: int
    version: int
    updated_at: datetime
    reminders: list[timedelta]


@dataclass(frozen=True)
class Finish:
    """An occurrence of a recurring task that was completed (completed_at set) or deleted (None)."""

    event_id: uuid.UUID
    user_id: str
    template_id: uuid.UUID
    task_id: uuid.UUID
    completed_at: datetime | None
    #: Where the event came from ("topic/partition/offset"), for logs and dead letters.
    source: str = ""


@dataclass
class Expansion:
    """What one batch did, for the agent to publish and log."""

    created: list[Created] = field(default_factory=list)
    ended: list[uuid.UUID] = field(default_factory=list)
    #: Events applied before (replays, or another worker was first).
    duplicates: list[Finish] = field(default_factory=list)
    #: Events that change nothing, with the reason (template deleted or paused, not the newest occurrence).
    ignored: list[tuple[Finish, str]] = field(default_factory=list)
    #: Slots another transaction had claimed already.
    taken: list[Planned] = field(default_factory=list)

    @property
    def events(self) -> list[PendingEvent]:
        return [c.event for c in self.created]


async def claim_events(session, consumer: str, event_ids: list[uuid.UUID], *, now: datetime) -> set[uuid.UUID]:
    """Record the ids as processed by `consumer`; return those not recorded before."""
    if not event_ids:
        return set()
    # Sorted, so two transactions inserting overlapping sets wait on each other instead of deadlocking.
    rows = await session.execute(_CLAIM_EVENTS, {"consumer": consumer, "event_ids": sorted(event_ids), "now": now})
    return set(rows.scalars())


async def expand(session, finishes: list[Finish], *, now: datetime, consumer: str = CONSUMER) -> Expansion:
    """Create the next occurrence of every finished one (see the module docstring), in the caller's transaction."""
    result = Expansion()
    fresh_ids = await claim_events(session, consumer, list({f.event_id for f in finishes}), now=now)
    fresh: list[Finish] = []
    for finish in finishes:
        if finish.event_id in fresh_ids:
            fresh_ids.discard(finish.event_id)  # the same event twice in one batch counts once
            fresh.append(finish)
        else:
            result.duplicates.append(finish)
    if not fresh:
        return result

    rows = await session.execute(_LOCK_TEMPLATES, {"template_ids": sorted({f.template_id for f in fresh})})
    templates = {row.id: TemplateState(**row._mapping) for row in rows}
    newest: dict[uuid.UUID, Head | None] = dict(await heads(session, list(templates)))
    planned: list[Planned] = []
    changed: dict[uuid.UUID, TemplateState] = {}
    for finish in fresh:  # in event order: a later event sees what an earlier one changed
        template = templates.get(finish.template_id)
        if template is None or template.user_id != finish.user_id:
            result.ignored.append((finish, "the recurring task no longer exists"))
            continue
        if template.status != "active":
            result.ignored.append((finish, f"the recurring task is {template.status}"))
            continue
        head = newest.get(template.id)
        if head is None or head.task_id != finish.task_id:
            result.ignored.append((finish, "not the newest occurrence (its successor exists)"))
            continue
        changed[template.id] = template
        nxt = plan_next(template, head, completed_at=finish.completed_at, now=now)
        if nxt is None:
            end(template, now)
            result.ended.append(template.id)
            continue
        planned.append(nxt)
        newest[template.id] = None  # the new occurrence is the newest now; its task has no id yet
    result.created, result.taken = await materialise(session, planned, now=now)
    if changed:
        await session.execute(_SAVE_TEMPLATES, {
            "template_ids": list(changed),
            "statuses": [t.status for t in changed.values()],
            "nexts": [t.next_occurrence for t in changed.values()],
            "counts": [t.occurrences_created for t in changed.values()],
            "now": now,
        })
    return result


async def purge_processed(session, consumer: str, *, before: datetime) -> int:
    """Forget processed event ids recorded before `before` (older than any event still redelivered)."""
    outcome = await session.execute(
        delete(ProcessedEvent).where(ProcessedEvent.consumer == consumer, ProcessedEvent.processed_at < before)
    )
    return outcome.rowcount or 0
