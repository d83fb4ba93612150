"""Notification queries: delivering due reminders exactly once, and the user's inbox."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update

from streams.events import notification_json
from streams.rules.all_day import zone_or_utc
from streams.rules.email import render
from streams.rules.reminders import BATCH_WINDOW, DueReminder, batch_message

from .email import queue_emails
from .models import Notification
from .serialize import iso
from .webhooks import queue_events

REMINDER_KIND = "reminder"


@dataclass(frozen=True)
class Delivered:
    """The outcome of one delivery: the notification (None when nothing was due) and what it covered."""

    user_id: str
    notification: dict[str, Any] | None
    reminder_ids: list[str]
    dropped: int
    remind_at: list[datetime]
    sent_at: datetime | None


# Locks the due, unsent reminders of every user in the batch: the ones named and their batch mates
# (due within BATCH_WINDOW of the user's earliest named one). SKIP LOCKED: a reminder another
# notifier holds is that notifier's to deliver (during a rebalance two may see the same message).
# Set-based on purpose: a batch of N users costs the same handful of statements as one user.
# follows_due counts before_due as an exact duration (not calendar days), as the reminder was created.
_DUE = text("""
    SELECT r.id, r.user_id, r.task_id, r.remind_at, r.before_due, t.title, t.due_date, t.due_day, t.completed,
           t.due_date - make_interval(secs => extract(epoch FROM r.before_due)) AS follows_due,
           s.time_zone, clock_timestamp() AS now
    FROM reminders AS r
    JOIN tasks AS t ON t.id = r.task_id
    LEFT JOIN user_settings AS s ON s.user_id = r.user_id
    JOIN unnest(CAST(:users AS text[]), CAST(:earliest AS timestamptz[])) AS b(user_id, earliest)
      ON b.user_id = r.user_id
    WHERE NOT r.sent AND r.remind_at <= clock_timestamp()
      AND (r.id = ANY(CAST(:ids AS uuid[]))
           OR r.remind_at BETWEEN b.earliest - CAST(:window AS interval) AND b.earliest + CAST(:window AS interval))
    ORDER BY r.user_id, r.remind_at, r.id
    FOR UPDATE OF r SKIP LOCKED
""")

_INSERT = text("""
    INSERT INTO notifications (id, user_id, reminder_id, kind, title, body, data, created_at)
    SELECT n.id, n.user_id, n.reminder_id, :kind, n.title, n.body, CAST(n.data AS jsonb), n.created_at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:users AS text[]), CAST(:reminder_ids AS uuid[]),
                CAST(:titles AS text[]), CAST(:bodies AS text[]), CAST(:datas AS text[]),
                CAST(:nows AS timestamptz[])) AS n(id, user_id, reminder_id, title, body, data, created_at)
    ON CONFLICT (reminder_id) DO NOTHING
    RETURNING id, user_id, reminder_id, kind, title, body, data, read_at, snoozed_until, created_at
""")

_MARK_SENT = text("""
    UPDATE reminders AS r SET sent = true, sent_at = m.sent_at, notification_id = m.notification_id
    FROM unnest(CAST(:ids AS uuid[]), CAST(:notification_ids AS uuid[]), CAST(:nows AS timestamptz[]))
         AS m(id, notification_id, sent_at)
    WHERE r.id = m.id AND NOT r.sent
""")

_DROP = text("DELETE FROM reminders WHERE id = ANY(CAST(:ids AS uuid[])) AND NOT sent")

_MOVE = text("""
    UPDATE reminders AS r SET remind_at = m.remind_at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:times AS timestamptz[])) AS m(id, remind_at)
    WHERE r.id = m.id AND NOT r.sent
""")


async def deliver_batch(
    session, batch: dict[str, tuple[list[uuid.UUID], datetime]], *, window: timedelta = BATCH_WINDOW,
    email: bool = False,
) -> list[Delivered]:
    """In the caller's transaction, for each user of `batch` ({user_id: (reminder ids, earliest remind_at)}):
    re-check the reminders against Postgres, drop those of finished tasks, and write ONE notification
    for the rest, marking them sent. Replays find them sent and do nothing."""
    users = list(batch)
    rows = (
        await session.execute(_DUE, {
            "users": users, "earliest": [batch[u][1] for u in users],
            "ids": [ident for u in users for ident in batch[u][0]], "window": window,
        })
    ).all()
    # The task row is the truth even when the reminder agent has not caught up with its events yet:
    # a finished task's reminders, and relative ones whose task lost its due date, are dropped; a
    # relative one whose due date moved is moved, not fired.
    finished = {row.id for row in rows if row.completed or (row.before_due is not None and row.due_date is None)}
    moved = [row for row in rows if row.id not in finished and row.follows_due is not None
             and row.follows_due != row.remind_at]
    if finished:
        await session.execute(_DROP, {"ids": list(finished)})
    if moved:
        await session.execute(_MOVE, {"ids": [r.id for r in moved], "times": [r.follows_due for r in moved]})
    skipped = finished | {r.id for r in moved}
    by_user: dict[str, list[Any]] = {}
    for row in rows:
        if row.id not in skipped:
            by_user.setdefault(row.user_id, []).append(row)

    pending: dict[uuid.UUID, tuple[str, list[Any], str, str]] = {}  # notification id -> (user, rows, title, body)
    for user_id, due in by_user.items():
        now = due[0].now
        title, body = batch_message(
            [DueReminder(str(r.id), str(r.task_id), r.title, r.remind_at, r.due_date, r.due_day) for r in due], now,
            zone_or_utc(due[0].time_zone),
        )
        pending[uuid.uuid4()] = (user_id, due, title[:255], body)
    inserted = []
    if pending:
        inserted = (
            await session.execute(_INSERT, {
                "kind": REMINDER_KIND,
                "ids": list(pending),
                "users": [p[0] for p in pending.values()],
                "reminder_ids": [p[1][0].id for p in pending.values()],
                "titles": [p[2] for p in pending.values()],
                "bodies": [p[3] for p in pending.values()],
                "datas": [json.dumps({
                    "reminder_ids": [str(r.id) for r in p[1]],
                    "task_ids": sorted({str(r.task_id) for r in p[1]}),
                    "remind_at": iso(p[1][0].remind_at),
                }) for p in pending.values()],
                "nows": [p[1][0].now for p in pending.values()],
            })
        ).all()
    # A notification missing from RETURNING already existed (a replay that raced past the sent check).
    results = [Delivered(user, None, [], 0, [], None) for user in batch if user not in by_user]
    if inserted:
        sent = [(row, pending[row.id]) for row in inserted]
        await session.execute(_MARK_SENT, {
            "ids": [r.id for _, p in sent for r in p[1]],
            "notification_ids": [row.id for row, p in sent for _ in p[1]],
            "nows": [r.now for _, p in sent for r in p[1]],
        })
        notifications = {row.id: notification_json(row) for row, _ in sent}
        # Queued in the same transaction: the webhook event and the email exist exactly when the notification does.
        await queue_events(session, "reminder.fired", [
            (p[0], notifications[row.id]["id"], iso(p[1][0].now), {"notification": notifications[row.id]})
            for row, p in sent
        ])
        if email:  # SMTP is configured; queued only for users who gave an address
            await queue_emails(session, [(p[0], row.id, *render(p[2], p[3])) for row, p in sent])
        results += [
            Delivered(p[0], notifications[row.id], [str(r.id) for r in p[1]], 0, [r.remind_at for r in p[1]],
                      p[1][0].now)
            for row, p in sent
        ]
    return results


# The inbox --------------------------------------------------------------------------------------


async def list_notifications(session, user_id: str, *, unread: bool | None, limit: int, now: datetime) -> list[Any]:
    """Newest first. Unread means not read and not snoozed into the future."""
    query = select(Notification).where(Notification.user_id == user_id)
    # Never NULL: a bare `snoozed_until > now` is NULL for a notification never snoozed, and NOT NULL
    # is NULL too, so such a notification would match neither filter.
    hidden = Notification.read_at.is_not(None) | (Notification.snoozed_until.is_not(None)
                                                  & (Notification.snoozed_until > now))
    if unread is True:
        query = query.where(~hidden)
    elif unread is False:
        query = query.where(hidden)
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def mark_read(session, user_id: str, notification_id: uuid.UUID, *, now: datetime) -> Any | None:
    """Mark read (keeping the first read time); None when the user has no such notification."""
    return (
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.user_id == user_id)
            .values(read_at=func.coalesce(Notification.read_at, now))
            .returning(Notification)
        )
    ).scalar_one_or_none()


async def mark_all_read(session, user_id: str, *, now: datetime) -> int:
    """Mark read what the user can see; a notification snoozed into the future is hidden, so it
    comes back unread when its snooze ends."""
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None),
               Notification.snoozed_until.is_(None) | (Notification.snoozed_until <= now))
        .values(read_at=now)
    )
    return result.rowcount or 0


async def snooze(session, user_id: str, notification_id: uuid.UUID, *, until: datetime) -> Any | None:
    """Hide it from the unread list until `until`; it comes back unread then."""
    return (
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.user_id == user_id)
            .values(snoozed_until=until, read_at=None)
            .returning(Notification)
        )
    ).scalar_one_or_none()


# Ended snoozes ----------------------------------------------------------------------------------

# Claims notifications whose snooze has ended and not been delivered yet, in the UPDATE that records
# it: SKIP LOCKED and the changed resurfaced_until mean two workers never take the same snooze end,
# and a sweep that finds nothing costs one probe of a partial index that holds only pending snoozes.
_RESURFACE = text("""
    UPDATE notifications AS n SET resurfaced_until = n.snoozed_until
    WHERE n.id IN (
        SELECT id FROM notifications
        WHERE snoozed_until IS DISTINCT FROM resurfaced_until AND snoozed_until <= now()
        ORDER BY snoozed_until
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING n.id, n.user_id, n.reminder_id, n.kind, n.title, n.body, n.data, n.read_at, n.snoozed_until,
              n.created_at, clock_timestamp() AS now
""")


# The earliest snooze end not yet delivered, read from the partial index of pending snoozes.
_SNOOZE_ENDS_IN = text("""
    SELECT EXTRACT(EPOCH FROM min(snoozed_until) - clock_timestamp())
    FROM notifications WHERE snoozed_until IS DISTINCT FROM resurfaced_until
""")


async def seconds_until_snooze_ends(session) -> float | None:
    """Seconds until the earliest pending snooze ends by the database's clock (0 or less: ended);
    None when no notification is snoozed."""
    ends_in = (await session.execute(_SNOOZE_ENDS_IN)).scalar()
    return None if ends_in is None else float(ends_in)


async def resurface_due(session, *, limit: int, email: bool = False) -> list[Delivered]:
    """In the caller's transaction: take up to `limit` notifications whose snooze has ended and
    deliver them again like new ones (the same webhook event and email, queued here); the caller
    pushes the returned ones after commit. One read meanwhile is claimed and not delivered."""
    rows = [row for row in (await session.execute(_RESURFACE, {"limit": limit})).all() if row.read_at is None]
    if not rows:
        return []
    notifications = {row.id: notification_json(row) for row in rows}
    # A new event id per snooze end (the first delivery's is the notification id); stable, so a
    # retried transaction queues nothing twice.
    await queue_events(session, "reminder.fired", [
        (row.user_id, str(uuid.uuid5(row.id, iso(row.snoozed_until))), iso(row.now),
         {"notification": notifications[row.id]})
        for row in rows
    ])
    if email:
        await queue_emails(session, [(row.user_id, row.id, *render(row.title, row.body), row.snoozed_until)
                                     for row in rows])
    return [Delivered(row.user_id, notifications[row.id], [], 0, [], row.now) for row in rows]
