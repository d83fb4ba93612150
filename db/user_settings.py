"""User settings queries: the time zone, and keeping all-day tasks on their calendar day when it changes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from streams.rules.all_day import DEFAULT_ZONE, day_end, parse_zone, zone_or_utc

from .models import UserSettings
from .outbox import PendingEvent
from .reminders import schedule_change
from .serialize import iso

__all__ = ["get_settings", "is_all_day", "put_settings", "settings_json", "stored_due", "time_zone", "zone_name"]


def settings_json(row: UserSettings | None) -> dict[str, Any]:
    return {
        "time_zone": row.time_zone if row is not None else DEFAULT_ZONE,
        "updated_at": iso(row.updated_at) if row is not None else None,
    }


async def get_settings(session, user_id: str) -> dict[str, Any]:
    row = (await session.execute(select(UserSettings).where(UserSettings.user_id == user_id))).scalar_one_or_none()
    return settings_json(row)


async def zone_name(conn, user_id: str) -> str:
    """The user's IANA zone name; UTC until they set one. `conn`: an asyncpg connection (Database.connection())."""
    return await conn.fetchval("SELECT time_zone FROM user_settings WHERE user_id = $1", user_id) or DEFAULT_ZONE


async def time_zone(conn, user_id: str) -> ZoneInfo:
    return zone_or_utc(await zone_name(conn, user_id))


def is_all_day(fields: dict[str, Any]) -> bool:
    """Whether validated task fields set a date alone as due_date (an all-day task: the zone is needed)."""
    due = fields.get("due_date")
    return isinstance(due, date) and not isinstance(due, datetime)


def stored_due(fields: dict[str, Any], tz: ZoneInfo | None) -> dict[str, Any]:
    """Validated task fields with `due_date` as stored, the pair (due_date, due_day): a date is an all-day
    task due at the end of that day in the user's zone `tz`; an instant or null clears due_day."""
    if "due_date" not in fields:
        return fields
    if not is_all_day(fields):
        return {**fields, "due_day": None}
    assert tz is not None, "an all-day due date needs the user's zone"
    return {**fields, "due_date": day_end(fields["due_date"], tz), "due_day": fields["due_date"]}


# Changing the zone -----------------------------------------------------------------------------

_ALL_DAY = text("""
    SELECT id, due_day FROM tasks WHERE user_id = :user_id AND due_day IS NOT NULL ORDER BY id FOR UPDATE
""")

_MOVE_DUE = text("""
    UPDATE tasks AS t SET due_date = m.due_date
    FROM unnest(CAST(:ids AS uuid[]), CAST(:dues AS timestamptz[])) AS m(id, due_date)
    WHERE t.id = m.id AND t.due_date IS DISTINCT FROM m.due_date
""")

# As db/reminders.py follows a due date: before_due as an exact duration.
_MOVE_REMINDERS = text("""
    UPDATE reminders AS r
    SET remind_at = t.due_date - make_interval(secs => extract(epoch FROM r.before_due))
    FROM tasks AS t
    WHERE t.id = r.task_id AND r.task_id = ANY(CAST(:ids AS uuid[])) AND r.before_due IS NOT NULL AND NOT r.sent
      AND r.remind_at <> t.due_date - make_interval(secs => extract(epoch FROM r.before_due))
    RETURNING r.user_id, r.task_id
""")


async def put_settings(
    session, user_id: str, *, time_zone_name: str, now: datetime
) -> tuple[dict[str, Any], list[PendingEvent]]:
    """Set the zone, in the caller's transaction; (settings, reminder-schedule events to publish after commit).

    A new zone moves every all-day task's due_date to the end of the same calendar day there, and its
    relative reminders with it: the snapshot (the day) does not change, so no task event is written.
    """
    tz = parse_zone(time_zone_name)
    # Insert-then-lock: two first PUTs at once both find the row instead of both inserting it.
    await session.execute(insert(UserSettings).values(user_id=user_id, updated_at=now)
                          .on_conflict_do_nothing(index_elements=["user_id"]))
    row = (await session.execute(
        select(UserSettings).where(UserSettings.user_id == user_id).with_for_update()
    )).scalar_one()
    changed = row.time_zone != time_zone_name
    row.time_zone, row.updated_at = time_zone_name, now
    await session.flush()
    events: list[PendingEvent] = []
    if changed:
        tasks = (await session.execute(_ALL_DAY, {"user_id": user_id})).all()
        if tasks:
            ids = [t.id for t in tasks]
            await session.execute(_MOVE_DUE, {"ids": ids, "dues": [day_end(t.due_day, tz) for t in tasks]})
            moved = (await session.execute(_MOVE_REMINDERS, {"ids": ids})).all()
            for task_id in sorted({m.task_id for m in moved}):
                events.append(await schedule_change(session, user_id, uuid.UUID(str(task_id)),
                                                    reason="time_zone", now=now))
    return settings_json(row), events
