"""Recurring task templates: create (with the first occurrence), read, edit, pause, resume, delete, list occurrences.

An occurrence is a task created from a template for one slot of its rule. The schedule advances only
from its newest occurrence (the "head"): completing or deleting the head creates the next one (see
db/expansion.py, run by the recurrence agent), and each slot is claimed in `recurrence_occurrences`
with INSERT ... ON CONFLICT DO NOTHING before its task is created, so a slot never gets two tasks.

Every function runs inside the caller's transaction; the ones that create or change tasks return the
committed-later events for the caller to hand to the outbox relay after commit.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text

from streams.rules.recurrence import Rule, next_occurrence, parse_rule, slots
from streams.rules.reminders import format_duration

from .engine import driver_connection
from .errors import Conflict, NotFound, VersionConflict
from .events import PendingEvent
from .models import RecurrenceOccurrence, RecurringTask, Task
from .serialize import iso
from .tasks import create_task, modify_task

#: The rule fields as the API shows them (null when a rule kind does not use them).
RULE_FIELDS = (
    "frequency", "interval", "by_weekday", "by_month_day", "by_nth_weekday", "cron", "rrule",
    "start_date", "timezone", "end_date", "count", "repeat_from",
)
#: Template fields every occurrence copies.
TEMPLATE_FIELDS = ("title", "description", "priority", "tags", "reminders")
#: How errors name a template.
WHAT = "recurring task"


def _ended(template_id: uuid.UUID) -> Conflict:
    """Pause or resume asked of a template whose series is over."""
    return Conflict(
        f"{WHAT} {template_id} has ended (its end_date or count was reached); change its rule to continue it",
        status="ended",
    )


# Rules -------------------------------------------------------------------------------------------

_RULES: OrderedDict[uuid.UUID, tuple[dict[str, Any], Rule]] = OrderedDict()
_RULE_CACHE_SIZE = 10_000


def template_rule(template: Any) -> Rule:
    """The template's parsed rule, cached per template while its stored form stays the same."""
    cached = _RULES.get(template.id)
    if cached is not None and cached[0] == template.rule:
        _RULES.move_to_end(template.id)
        return cached[1]
    rule = parse_rule(template.rule)
    _RULES[template.id] = (dict(template.rule), rule)
    if len(_RULES) > _RULE_CACHE_SIZE:
        _RULES.popitem(last=False)
    return rule


def rule_json(rule: dict[str, Any]) -> dict[str, Any]:
    """The stored rule (Rule.to_dict()) in the API's shape: every field present, instants in UTC."""
    out: dict[str, Any] = {name: rule.get(name) for name in RULE_FIELDS}
    for name in ("start_date", "end_date"):
        if out[name] is not None:
            out[name] = iso(datetime.fromisoformat(out[name]))
    return out


def template_json(template: RecurringTask) -> dict[str, Any]:
    return {
        "id": str(template.id),
        "user_id": template.user_id,
        "title": template.title,
        "description": template.description,
        "priority": template.priority,
        "tags": list(template.tags),
        "reminders": [format_duration(offset) for offset in template.reminders or ()],
        **rule_json(template.rule),
        "status": template.status,
        "next_occurrence": iso(template.next_occurrence),
        "occurrences_created": template.occurrences_created,
        "version": template.version,
        "created_at": iso(template.created_at),
        "updated_at": iso(template.updated_at),
    }


# Creating occurrences ----------------------------------------------------------------------------
#
# The set-based statements take arrays (unnest / ANY), so each has one SQL text whatever the batch
# size: compiled and prepared once per connection, not once per batch.

_CLAIM_SLOTS = text("""
    INSERT INTO recurrence_occurrences
        (template_id, slot, occurrence_index, skipped_slots, skipped_truncated, created_at)
    SELECT u.template_id, u.slot, u.position,
           ARRAY(SELECT CAST(x.at AS timestamptz)
                 FROM jsonb_array_elements_text(CAST(u.skipped AS jsonb)) WITH ORDINALITY AS x(at, n) ORDER BY x.n),
           u.truncated, :now
    FROM unnest(CAST(:template_ids AS uuid[]), CAST(:slots AS timestamptz[]), CAST(:positions AS integer[]),
                CAST(:skipped AS text[]), CAST(:truncated AS boolean[]))
         AS u(template_id, slot, position, skipped, truncated)
    ON CONFLICT (template_id, slot) DO NOTHING
    RETURNING template_id, slot
""")

_LINK_TASKS = text("""
    UPDATE recurrence_occurrences AS o SET task_id = u.task_id
    FROM unnest(CAST(:template_ids AS uuid[]), CAST(:slots AS timestamptz[]), CAST(:task_ids AS uuid[]))
         AS u(template_id, slot, task_id)
    WHERE o.template_id = u.template_id AND o.slot = u.slot
""")

_HEADS = text("""
    SELECT DISTINCT ON (template_id) template_id, slot, occurrence_index, task_id
    FROM recurrence_occurrences
    WHERE template_id = ANY(CAST(:template_ids AS uuid[]))
    ORDER BY template_id, slot DESC
""")


@dataclass
class Planned:
    """A slot to turn into a task, with what the rule said about the slots skipped before it.

    `template` is a RecurringTask row, or anything with its attributes (the agent uses lighter rows).
    """

    template: Any
    slot: datetime
    index: int | None
    skipped: list[datetime] = field(default_factory=list)
    skipped_truncated: bool = False


@dataclass
class Created:
    planned: Planned
    task: Task
    event: PendingEvent


async def materialise(session, planned: list[Planned], *, now: datetime) -> tuple[list[Created], list[Planned]]:
    """Claim each planned slot and create the task of every slot claimed here.

    Returns what was created and the slots another transaction had already claimed. The caller holds
    the templates' row locks; tasks are created in user order so concurrent batches take the users'
    sequence-row locks in the same order. Each template's occurrences_created and next_occurrence
    are updated on the object passed in (the caller writes them back).
    """
    if not planned:
        return [], []
    rows = await session.execute(_CLAIM_SLOTS, {
        "template_ids": [p.template.id for p in planned],
        "slots": [p.slot for p in planned],
        "positions": [p.index for p in planned],
        "skipped": [json.dumps([iso(at) for at in p.skipped]) for p in planned],
        "truncated": [p.skipped_truncated for p in planned],
        "now": now,
    })
    claimed = {(row.template_id, row.slot) for row in rows}
    created: list[Created] = []
    taken: list[Planned] = []
    for p in sorted(planned, key=lambda p: (p.template.user_id, str(p.template.id))):
        if (p.template.id, p.slot) not in claimed:
            taken.append(p)
            continue
        template = p.template
        task, event = await create_task(
            await driver_connection(session),
            template.user_id,
            {
                "title": template.title,
                "description": template.description,
                "priority": template.priority,
                "tags": list(template.tags),
                "due_date": p.slot,
                "recurring_task_id": template.id,
            },
            now=now,
        )
        created.append(Created(p, task, event))
        template.occurrences_created += 1
        if template.status == "active":
            template.next_occurrence = p.slot
        template.updated_at = now
    await _occurrence_reminders(session, created, now=now)
    if created:
        await session.execute(_LINK_TASKS, {
            "template_ids": [c.planned.template.id for c in created],
            "slots": [c.planned.slot for c in created],
            "task_ids": [c.task.id for c in created],
        })
    return created, taken


_OCCURRENCE_REMINDERS = text("""
    INSERT INTO reminders (id, user_id, task_id, remind_at, before_due, created_at)
    SELECT gen_random_uuid(), u.user_id, u.task_id, m.remind_at, u.offset_, :now
    FROM unnest(CAST(:users AS text[]), CAST(:task_ids AS uuid[]), CAST(:dues AS timestamptz[]),
                CAST(:offsets AS interval[])) AS u(user_id, task_id, due, offset_)
    -- the offset as an exact duration, not calendar days, as a reminder's before_due counts everywhere
    CROSS JOIN LATERAL (SELECT u.due - make_interval(secs => extract(epoch FROM u.offset_)) AS remind_at) AS m
    WHERE m.remind_at > :now
""")


async def _occurrence_reminders(session, created: list[Created], *, now: datetime) -> None:
    """Each new occurrence gets its template's reminders (those not already past), in the same
    transaction as the task: the reminder agent schedules them when it sees the created event."""
    rows = [(c.task.user_id, c.task.id, c.planned.slot, offset)
            for c in created for offset in (getattr(c.planned.template, "reminders", None) or ())]
    if rows:
        users, task_ids, dues, offsets = (list(column) for column in zip(*rows))
        await session.execute(_OCCURRENCE_REMINDERS,
                              {"users": users, "task_ids": task_ids, "dues": dues, "offsets": offsets, "now": now})


@dataclass(frozen=True)
class Head:
    """A template's newest occurrence: the one whose completion or deletion advances the schedule."""

    slot: datetime
    index: int | None
    task_id: uuid.UUID | None


async def heads(session, template_ids: list[uuid.UUID]) -> dict[uuid.UUID, Head]:
    if not template_ids:
        return {}
    rows = await session.execute(_HEADS, {"template_ids": list(template_ids)})
    return {row.template_id: Head(row.slot, row.occurrence_index, row.task_id) for row in rows}


def finished_index(template: RecurringTask, head: Head) -> int:
    # Positions are unknown only for unbounded cron rules; a later rule edit to a completion-date rule
    # with a count then counts the occurrences created so far.
    return head.index if head.index is not None else max(template.occurrences_created - 1, 0)


def plan_next(
    template: RecurringTask, head: Head, *, completed_at: datetime | None, now: datetime
) -> Planned | None:
    """The occurrence after `head` finished (completed at `completed_at`, or deleted: None); None = ended."""
    rule = template_rule(template)
    nxt = next_occurrence(
        rule, finished_slot=head.slot, completed_at=completed_at, now=now,
        finished_index=finished_index(template, head),
    )
    if nxt is None:
        return None
    return Planned(template, nxt.due, nxt.index, list(nxt.skipped), nxt.skipped_truncated)


def end(template: RecurringTask, now: datetime) -> None:
    template.status = "ended"
    template.next_occurrence = None
    template.updated_at = now


# Templates ---------------------------------------------------------------------------------------


async def create_template(
    session, user_id: str, fields: dict[str, Any], rule: Rule, *, now: datetime
) -> tuple[RecurringTask, PendingEvent]:
    """The template and its first occurrence (the rule's first slot), in the caller's transaction."""
    template = RecurringTask(
        id=uuid.uuid4(),
        user_id=user_id,
        title=fields["title"],
        description=fields.get("description"),
        priority=fields.get("priority", "MEDIUM"),
        tags=fields.get("tags", []),
        reminders=fields.get("reminders", []),
        rule=rule.to_dict(),
        status="active",
        occurrences_created=0,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(template)
    await session.flush()
    # parse_rule refuses rules without a single slot, so there is always a first one.
    first = slots(rule, limit=1)[0]
    created, _ = await materialise(session, [Planned(template, first, 0)], now=now)
    return template, created[0].event


async def get_template(session, user_id: str, template_id: uuid.UUID) -> RecurringTask | None:
    return (
        await session.execute(
            select(RecurringTask).where(RecurringTask.id == template_id, RecurringTask.user_id == user_id)
        )
    ).scalar_one_or_none()


async def list_templates(
    session, user_id: str, *, status: str | None, limit: int, offset: int
) -> tuple[list[RecurringTask], int]:
    """One page of the user's templates, newest first, and how many there are in all."""
    where = [RecurringTask.user_id == user_id]
    if status is not None:
        where.append(RecurringTask.status == status)
    total = (await session.execute(select(func.count()).select_from(RecurringTask).where(*where))).scalar_one()
    rows = await session.execute(
        select(RecurringTask).where(*where)
        .order_by(RecurringTask.created_at.desc(), RecurringTask.id.desc()).limit(limit).offset(offset)
    )
    return list(rows.scalars()), total


async def _locked(session, user_id: str, template_id: uuid.UUID, expected_version: int | None) -> RecurringTask:
    template = (
        await session.execute(
            select(RecurringTask)
            .where(RecurringTask.id == template_id, RecurringTask.user_id == user_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if template is None:
        raise NotFound(WHAT, template_id)
    if expected_version is not None and template.version != expected_version:
        raise VersionConflict(WHAT, template_id, expected=expected_version, current=template.version)
    return template


async def _head_is_open(session, template: RecurringTask, head: Head | None) -> bool:
    if head is None or head.task_id is None:
        return False
    completed = (
        await session.execute(
            select(Task.completed).where(Task.id == head.task_id, Task.user_id == template.user_id)
        )
    ).scalar_one_or_none()
    return completed is False


async def _continue(session, template: RecurringTask, *, now: datetime) -> list[PendingEvent]:
    """Make an active template whose newest occurrence is finished go on from the next future slot.

    Slots that passed meanwhile (while paused, or before a rule edit revived an ended template) are
    recorded as skipped on the new occurrence; no future slot ends the template.
    """
    head = (await heads(session, [template.id])).get(template.id)
    if await _head_is_open(session, template, head):
        template.next_occurrence = head.slot  # type: ignore[union-attr]
        return []
    if head is None:
        rule = template_rule(template)
        upcoming = slots(rule, after=now, limit=1)
        planned = Planned(template, upcoming[0], None) if upcoming else None
    else:
        planned = plan_next(template, head, completed_at=None, now=now)
    if planned is None:
        end(template, now)
        return []
    created, _ = await materialise(session, [planned], now=now)
    return [c.event for c in created]


async def update_template(
    session,
    user_id: str,
    template_id: uuid.UUID,
    edit: Callable[[RecurringTask], tuple[dict[str, Any], Rule | None]],
    *,
    now: datetime,
    expected_version: int | None = None,
) -> tuple[RecurringTask, list[PendingEvent]]:
    """Apply `edit(template) -> (fields, new rule or None)` under the template's row lock.

    Existing occurrences keep their title, tags and due date. A new rule applies from the next slot
    on: the open occurrence stays as it is, and the one after it is the new rule's first slot after
    it. A rule edit that extends an ended series (a later end_date, a higher count) revives it from
    its next future slot.
    """
    template = await _locked(session, user_id, template_id, expected_version)
    fields, rule = edit(template)
    changed = False
    for key, value in fields.items():
        if getattr(template, key) != value:
            setattr(template, key, value)
            changed = True
    events: list[PendingEvent] = []
    rule_changed = rule is not None and rule.to_dict() != template.rule
    if rule_changed:
        template.rule = rule.to_dict()  # type: ignore[union-attr]
    if not (changed or rule_changed):
        return template, events
    template.version += 1
    template.updated_at = now
    if rule_changed and template.status == "ended":
        template.status = "active"
        events = await _continue(session, template, now=now)
    return template, events


async def pause_template(
    session, user_id: str, template_id: uuid.UUID, *, now: datetime, expected_version: int | None = None
) -> RecurringTask:
    """Stop creating occurrences; the open one stays. Pausing a paused template changes nothing."""
    template = await _locked(session, user_id, template_id, expected_version)
    if template.status == "ended":
        raise _ended(template_id)
    if template.status == "paused":
        return template
    template.status = "paused"
    template.next_occurrence = None
    template.version += 1
    template.updated_at = now
    return template


async def resume_template(
    session, user_id: str, template_id: uuid.UUID, *, now: datetime, expected_version: int | None = None
) -> tuple[RecurringTask, list[PendingEvent]]:
    """Go on from the next future slot, creating that occurrence unless the newest one is still open."""
    template = await _locked(session, user_id, template_id, expected_version)
    if template.status == "ended":
        raise _ended(template_id)
    if template.status == "active":
        return template, []
    template.status = "active"
    template.version += 1
    template.updated_at = now
    events = await _continue(session, template, now=now)
    return template, events


async def delete_template(
    session, user_id: str, template_id: uuid.UUID, *, now: datetime, expected_version: int | None = None
) -> list[PendingEvent]:
    """Delete the template and its occurrence records; its tasks stay, unlinked, each with an `updated` event.

    Lock order: the template, then all its tasks at once (by id), then (with the first event) the
    user's sequence row, the order every task write keeps (task, then sequence row; see
    db/tasks.py). Locking task by task while unlinking held the sequence row from the first unlink
    on while waiting for the next task, which a request changing that task held while waiting for
    the sequence row: a deadlock. A task deleted meanwhile is simply not among those locked.
    """
    template = await _locked(session, user_id, template_id, expected_version)
    task_ids = (
        await session.execute(
            select(Task.id)
            .where(Task.recurring_task_id == template.id, Task.user_id == user_id)
            .order_by(Task.id)
            .with_for_update()
        )
    ).scalars().all()
    events: list[PendingEvent] = []
    conn = await driver_connection(session)
    for task_id in task_ids:
        _, event = await modify_task(conn, user_id, task_id, lambda task: {"recurring_task_id": None}, now=now)
        if event is not None:
            events.append(event)
    await session.delete(template)
    await session.flush()
    return events


# Occurrences -------------------------------------------------------------------------------------


async def occurrences(
    session, template: RecurringTask, *, upcoming: int, past: int, now: datetime
) -> dict[str, Any]:
    """The next `upcoming` due times the rule gives and the newest `past` occurrences created, oldest first.

    Upcoming due times follow the newest occurrence (and now); they assume each occurrence is finished
    on time, so for repeat_from=completion_date they are a forecast. Paused and ended templates have none.
    """
    rows = (
        await session.execute(
            select(
                RecurrenceOccurrence.slot, RecurrenceOccurrence.task_id, RecurrenceOccurrence.skipped_slots,
                RecurrenceOccurrence.skipped_truncated, Task.completed, Task.id.label("existing"),
            )
            .outerjoin(Task, Task.id == RecurrenceOccurrence.task_id)
            .where(RecurrenceOccurrence.template_id == template.id)
            .order_by(RecurrenceOccurrence.slot.desc())
            .limit(past)
        )
    ).all()
    rows.reverse()
    due_times: list[datetime] = []
    if template.status == "active" and upcoming:
        newest = (await heads(session, [template.id])).get(template.id)
        after = max(newest.slot, now) if newest is not None else now
        due_times = slots(template_rule(template), after=after, limit=upcoming)
    return {
        "upcoming": [iso(due) for due in due_times],
        "past": [
            {
                "task_id": str(row.task_id) if row.task_id else None,
                "due_date": iso(row.slot),
                "completed": bool(row.completed),
                "deleted": row.existing is None,
                "skipped_before": [iso(slot) for slot in row.skipped_slots],
                "skipped_truncated": row.skipped_truncated,
            }
            for row in rows
        ],
    }
