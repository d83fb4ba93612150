"""Import files read into a validated plan: this server's JSON export, or a Todoist CSV export."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from db.recurring import RULE_FIELDS, TEMPLATE_FIELDS
from db.transfer import FORMAT, VERSION, Plan, ReminderItem, TaskItem, TemplateItem, ViewItem, source_id
from streams.rules import todoist
from streams.rules.email import valid_address
from streams.rules.reminders import DurationError, parse_duration

from ..errors import ValidationError
from . import fields as v
from . import recurring as rv
from .fields import parse_uuid

SECTIONS = ("tasks", "recurring_tasks", "reminders", "saved_views")
DOCUMENT_FIELDS = ("format", "version", "exported_at", "user_id", *SECTIONS, "notification_settings")
TASK_FIELDS = ("title", "description", "due_date", "priority", "tags")


def _object(value: Any, kind: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(kind, "must be a JSON object")
    return value


def document_plan(document: Any, *, view_query: Callable[[Any], tuple[str, dict[str, str]]]) -> Plan:
    """A JSON export (GET /api/export) as a plan. A wrong document is a 400; a bad entry is skipped with its
    reason. `view_query` validates a saved view as POST /api/views does (web/views/saved_views.py)."""
    document = v.require_object(document)
    if document.get("format") != FORMAT:
        raise ValidationError("format", f"must be {FORMAT!r}: send this server's JSON export (GET /api/export, "
                                        "Content-Type application/json) or a Todoist CSV export (text/csv)")
    if document.get("version") != VERSION or isinstance(document.get("version"), bool):
        raise ValidationError("version", f"this server reads version {VERSION} of its export, got "
                                         f"{str(document.get('version'))[:20]}")
    v.reject_unknown(document, DOCUMENT_FIELDS)
    for section in SECTIONS:
        if not isinstance(document.get(section, []), list):
            raise ValidationError(section, "must be a list")
    plan = Plan()
    templates = _templates(plan, document.get("recurring_tasks", []))
    _tasks(plan, document.get("tasks", []), templates)
    _reminders(plan, document.get("reminders", []))
    _views(plan, document.get("saved_views", []), view_query)
    settings = document.get("notification_settings")
    if settings is not None:
        address = settings.get("email") if isinstance(settings, dict) else None
        if isinstance(address, str) and valid_address(address.strip()):
            plan.email = address.strip()
        elif address is not None or not isinstance(settings, dict):
            plan.skip({}, "notification_settings", "email must be an email address or null")
    return plan


def _where(entry: Any, n: int) -> dict[str, Any]:
    ident = entry.get("id") if isinstance(entry, dict) else None
    return {"id": ident} if isinstance(ident, str) else {"index": n}


def _templates(plan: Plan, entries: list[Any]) -> set[str]:
    ids = set()
    for n, entry in enumerate(entries):
        where = _where(entry, n)
        try:
            entry = _object(entry, "recurring_tasks[]")
            if isinstance(entry.get("id"), str):
                ids.add(entry["id"])
            if entry.get("status") == "ended":
                plan.skip(where, "recurring_task", "the series has ended")
                continue
            body = {key: entry[key] for key in (*TEMPLATE_FIELDS, *RULE_FIELDS) if entry.get(key) is not None}
            fields, rule = rv.template_create(body)
        except ValidationError as exc:
            plan.skip(where, "recurring_task", exc.message)
            continue
        plan.templates.append(TemplateItem(where, fields, rule, paused=entry.get("status") == "paused"))
    return ids


def _tasks(plan: Plan, entries: list[Any], templates: set[str]) -> None:
    for n, entry in enumerate(entries):
        where = _where(entry, n)
        try:
            entry = _object(entry, "tasks[]")
            ident = parse_uuid(entry.get("id")) if isinstance(entry.get("id"), str) else None
            if ident is None:
                raise ValidationError("id", "must be the task's UUID")
            if entry.get("recurring_task_id") in templates and not entry.get("completed"):
                plan.skip(where, "task", f"the open occurrence of recurring task {entry['recurring_task_id']}: "
                                         "the imported series creates its own")
                continue
            fields = v.task_create({key: entry[key] for key in TASK_FIELDS if entry.get(key) is not None})
            fields["completed"] = v.boolean(entry.get("completed", False), "completed")
        except ValidationError as exc:
            plan.skip(where, "task", exc.message)
            continue
        plan.tasks.append(TaskItem(where, ident, fields))


def _reminders(plan: Plan, entries: list[Any]) -> None:
    for n, entry in enumerate(entries):
        where = _where(entry, n)
        try:
            entry = _object(entry, "reminders[]")
            if entry.get("sent"):
                plan.skip(where, "reminder", "already sent")
                continue
            task = parse_uuid(entry.get("task_id")) if isinstance(entry.get("task_id"), str) else None
            if task is None:
                raise ValidationError("task_id", "must be the task's UUID")
            if entry.get("before_due") is not None:
                try:
                    before_due = parse_duration(entry["before_due"])
                except DurationError as exc:
                    raise ValidationError("before_due", str(exc)) from None
                item = ReminderItem(where, task, None, before_due)
            else:
                item = ReminderItem(where, task, v.timestamp(entry.get("remind_at"), "remind_at"), None)
        except ValidationError as exc:
            plan.skip(where, "reminder", exc.message)
            continue
        plan.reminders.append(item)


def _views(plan: Plan, entries: list[Any], view_query: Callable) -> None:
    for n, entry in enumerate(entries):
        where = _where(entry, n)
        try:
            entry = _object(entry, "saved_views[]")
            query = entry.get("query")
            name, params = view_query({"name": entry.get("name"), "params": query if query is not None else {}})
        except ValidationError as exc:
            plan.skip(where, "saved_view", exc.message)
            continue
        plan.views.append(ViewItem(where, name, params))


def todoist_plan(text: str, *, now: datetime) -> Plan:
    """A Todoist CSV export as a plan: each row a task, a series, or a line skipped with its reason."""
    try:
        rows = todoist.read(text)
    except todoist.TodoistError as exc:
        raise ValidationError("body", str(exc)) from None
    plan = Plan()
    for row in rows:
        item = todoist.convert(row, now=now)
        if item is None:
            continue
        where = {"line": item.line}
        if item.reason is not None:
            plan.skip(where, "row", item.reason)
            continue
        try:
            if item.rule is not None:
                fields, rule = rv.template_create({**item.fields, **item.rule})
                plan.templates.append(TemplateItem(where, fields, rule))
            else:
                fields = v.task_create({k: val for k, val in item.fields.items() if k != "due_date"})
                fields["due_date"] = item.fields.get("due_date")
                plan.tasks.append(TaskItem(where, source_id(f"todoist\x1f{item.key}"), fields))
        except ValidationError as exc:
            plan.skip(where, "row", exc.message)
    return plan
