"""JSON-ready snapshots of rows: the shape clients, events and the audit trail all share."""

from __future__ import annotations

from typing import Any

from streams.events import iso

from .models import Task

__all__ = ["iso", "task_snapshot"]


def task_snapshot(task: Task) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "completed_at": iso(task.completed_at),
        # An all-day task shows its calendar day; due_date is then only its sort/filter instant.
        "due_date": task.due_day.isoformat() if task.due_day is not None else iso(task.due_date),
        "all_day": task.due_day is not None,
        "priority": task.priority,
        "tags": list(task.tags),
        "recurring_task_id": str(task.recurring_task_id) if task.recurring_task_id else None,
        "version": task.version,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
    }
