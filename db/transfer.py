"""Export and import of one user's data: reading everything they own, and writing an import plan idempotently."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import select, text

from streams.rules.recurrence import Rule

from . import email, recurring, reminders, saved_views
from .errors import Conflict, Invalid, NotFound
from .engine import driver_connection
from .events import PendingEvent
from .models import RecurringTask, Reminder, SavedView, Task
from .serialize import iso, task_snapshot
from .tasks import create_task

FORMAT = "taskstream-export"
VERSION = 1
#: The namespace of the ids an import gives what it creates: the same source in the same account is the
#: same id, so importing a file again finds what the first import created.
NAMESPACE = uuid.UUID("6f0e2f55-6d1c-4c4f-9a8e-3c1b0a7d2e91")
CSV_COLUMNS = ("id", "title", "description", "completed", "completed_at", "due_date", "priority", "tags",
               "recurring_task_id", "created_at", "updated_at")
#: Spreadsheets run a cell that starts with one of these as a formula; the export defuses it with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def source_id(text: str) -> uuid.UUID:
    """A stable id for something without one (a Todoist row): derived from its content."""
    return uuid.uuid5(NAMESPACE, text)


def imported_id(user_id: str, source: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{user_id}\x1f{source}")


# Export ------------------------------------------------------------------------------------------


async def _tasks(session, user_id: str) -> list[Task]:
    query = select(Task).where(Task.user_id == user_id).order_by(Task.created_at, Task.id)
    return list((await session.execute(query)).scalars())


async def export_document(session, user_id: str, *, now: datetime) -> dict[str, Any]:
    """Everything the user keeps, as one versioned JSON document that POST /api/import reads back.
    Run it first in its transaction: its reads then share one snapshot."""
    await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    templates = await session.execute(
        select(RecurringTask).where(RecurringTask.user_id == user_id).order_by(RecurringTask.created_at,
                                                                               RecurringTask.id))
    kept = await session.execute(
        select(Reminder).where(Reminder.user_id == user_id).order_by(Reminder.remind_at, Reminder.id))
    settings = await email.get_settings(session, user_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": iso(now),
        "user_id": user_id,
        "tasks": [task_snapshot(task) for task in await _tasks(session, user_id)],
        "recurring_tasks": [recurring.template_json(t) for t in templates.scalars()],
        "reminders": [reminders.reminder_json(r) for r in kept.scalars()],
        "saved_views": [saved_views.view_json(v) for v in await saved_views.list_views(session, user_id)],
        "notification_settings": {"email": settings["email"]},
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = ",".join(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


async def export_csv(session, user_id: str) -> str:
    """The user's tasks as CSV, one row each, tags comma-separated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for task in await _tasks(session, user_id):
        snapshot = task_snapshot(task)
        writer.writerow([_cell(snapshot[column]) for column in CSV_COLUMNS])
    return out.getvalue()


# Import ------------------------------------------------------------------------------------------


@dataclass
class TaskItem:
    where: dict[str, Any]  # {"line": n} or {"id": ...}: how the report names it
    source: uuid.UUID
    fields: dict[str, Any]  # validated create fields, and "completed"


@dataclass
class TemplateItem:
    where: dict[str, Any]
    fields: dict[str, Any]
    rule: Rule
    paused: bool = False


@dataclass
class ReminderItem:
    where: dict[str, Any]
    task_source: uuid.UUID
    remind_at: datetime | None
    before_due: timedelta | None


@dataclass
class ViewItem:
    where: dict[str, Any]
    name: str
    query: dict[str, str]


@dataclass
class Plan:
    """What an import file asks for, already validated; `skipped` holds what it could not ask for."""

    tasks: list[TaskItem] = field(default_factory=list)
    templates: list[TemplateItem] = field(default_factory=list)
    reminders: list[ReminderItem] = field(default_factory=list)
    views: list[ViewItem] = field(default_factory=list)
    email: str | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, where: dict[str, Any], kind: str, reason: str) -> None:
        self.skipped.append({**where, "kind": kind, "reason": reason})


@dataclass
class Outcome:
    created: dict[str, int] = field(default_factory=lambda: {
        "tasks": 0, "recurring_tasks": 0, "reminders": 0, "saved_views": 0, "notification_settings": 0})
    skipped: list[dict[str, Any]] = field(default_factory=list)
    events: list[PendingEvent] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {"created": self.created, "skipped": self.skipped}


async def create_imported_task(session, user_id: str, task_id: uuid.UUID, fields: dict[str, Any], *,
                               now: datetime) -> PendingEvent:
    """The one place an import creates a task: db/tasks.create_task (row, audit row and outbox row in one
    statement) in the import's transaction, with the import's stable id."""
    _, event = await create_task(await driver_connection(session), user_id, fields, now=now, task_id=task_id)
    return event


def _series_key(title: str, rule: dict[str, Any]) -> tuple:
    # Without start_date: a Todoist repeat starts on the day it is imported, and a second import of the
    # same series on another day is still the same series.
    return title, tuple(sorted((k, str(v)) for k, v in rule.items() if k != "start_date"))


async def apply_plan(session, user_id: str, plan: Plan, *, now: datetime,
                     progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Create what the plan asks for and the user lacks, in the caller's transaction; report the rest."""
    outcome = Outcome(skipped=list(plan.skipped))

    existing = await session.execute(select(RecurringTask.title, RecurringTask.rule)
                                     .where(RecurringTask.user_id == user_id))
    series = {_series_key(title, rule) for title, rule in existing}
    for item in plan.templates:
        key = _series_key(item.fields["title"], item.rule.to_dict())
        if key in series:
            outcome.skipped.append({**item.where, "kind": "recurring_task",
                                    "reason": "you already have a recurring task with this title and rule"})
            continue
        template, event = await recurring.create_template(session, user_id, item.fields, item.rule, now=now)
        if item.paused:
            await recurring.pause_template(session, user_id, template.id, now=now)
        series.add(key)
        outcome.events.append(event)
        outcome.created["recurring_tasks"] += 1

    targets = {item.source: imported_id(user_id, item.source) for item in plan.tasks}
    wanted = set(targets) | set(targets.values())
    have = set((await session.execute(
        select(Task.id).where(Task.user_id == user_id, Task.id.in_(wanted)))).scalars()) if wanted else set()
    # A source id the user owns is their own task (a file exported from this account); another user's
    # task with that id stays invisible, and the import uses the derived id.
    mapped: dict[uuid.UUID, uuid.UUID] = {}
    for n, item in enumerate(plan.tasks, start=1):
        if item.source in mapped:
            outcome.skipped.append({**item.where, "kind": "task",
                                    "reason": "the same task appears earlier in the file"})
        else:
            target = mapped[item.source] = item.source if item.source in have else targets[item.source]
            if target in have:
                outcome.skipped.append({**item.where, "kind": "task", "reason": "you already have this task "
                                        "(imported before, or exported from this account)"})
            else:
                outcome.events.append(await create_imported_task(session, user_id, target, item.fields, now=now))
                have.add(target)
                outcome.created["tasks"] += 1
        if progress is not None:
            progress(n, len(plan.tasks))

    scheduled: set[uuid.UUID] = set()
    for item in plan.reminders:
        task_id = mapped.get(item.task_source)
        if task_id is None:
            outcome.skipped.append({**item.where, "kind": "reminder",
                                    "reason": f"its task {item.task_source} is not in the import"})
            continue
        present = await reminders.task_reminders(session, user_id, task_id) or []
        if any(r.before_due == item.before_due and (item.before_due is not None or r.remind_at == item.remind_at)
               for r in present):
            outcome.skipped.append({**item.where, "kind": "reminder", "reason": "the task already has this reminder"})
            continue
        try:
            await reminders.create_reminder(session, user_id, task_id, remind_at=item.remind_at,
                                            before_due=item.before_due, now=now)
        except (Invalid, Conflict, NotFound) as exc:
            outcome.skipped.append({**item.where, "kind": "reminder", "reason": getattr(exc, "message", str(exc))})
            continue
        outcome.created["reminders"] += 1
        scheduled.add(task_id)
    for task_id in sorted(scheduled):
        outcome.events.append(await reminders.schedule_change(session, user_id, task_id, reason="reminder.created",
                                                              now=now))

    names = set((await session.execute(select(SavedView.name).where(SavedView.user_id == user_id))).scalars())
    for item in plan.views:
        if item.name in names:
            outcome.skipped.append({**item.where, "kind": "saved_view",
                                    "reason": "you already have a view of this name"})
            continue
        await saved_views.create_view(session, user_id, item.name, item.query)
        names.add(item.name)
        outcome.created["saved_views"] += 1

    if plan.email is not None:
        current = (await email.get_settings(session, user_id))["email"]
        if current is None:
            # No confirmation link is mailed: reminder emails wait until the user confirms the address.
            await email.put_settings(session, user_id, email=plan.email, now=now)
            outcome.created["notification_settings"] += 1
        elif current != plan.email:
            outcome.skipped.append({"kind": "notification_settings",
                                    "reason": "you already have a reminder address; change it with PUT "
                                              "/api/notification-settings"})
    return outcome


__all__ = ["FORMAT", "VERSION", "Plan", "Outcome", "TaskItem", "TemplateItem", "ReminderItem", "ViewItem",
           "apply_plan", "create_imported_task", "export_csv", "export_document", "imported_id", "source_id"]
