"""JSON-ready snapshots of rows: the shape clients, events and the audit trail all share."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .models import Task


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 in UTC ending in Z (None stays None)."""
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def task_snapshot(task: Task) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "completed_at": iso(task.completed_at),
        "due_date": iso(task.due_date),
        "priority": task.priority,
        "tags": list(task.tags),
        "recurring_task_id": str(task.recurring_task_id) if task.recurring_task_id else None,
        "version": task.version,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
    }
