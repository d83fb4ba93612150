"""Reminder agents: keep reminders in step with their tasks, hand due reminders to `reminders`, notify.

Postgres is the schedule (see the README's "Reminders" section for why not a Faust table):

* `follow_tasks` (task-events) moves relative reminders when a due date moves and drops the
  reminders of completed or deleted tasks, each in its own transaction, idempotently (it
  recomputes from the task row as it is now, so replays change nothing).
* `schedule_reminders` (a 0.2 s timer on every worker) leases due, unsent reminders with
  FOR UPDATE SKIP LOCKED and sends each to `reminders` (key user_id). A lease that is never
  confirmed (worker killed between lease and send) runs out and the reminder is sent again.
  Nothing needs rebuilding at start-up: the first tick after a restart finds every overdue reminder.
* `notify_reminders` (reminders) re-checks each reminder in Postgres and, in ONE transaction,
  inserts the notification (UNIQUE reminder_id, ON CONFLICT DO NOTHING) and marks the reminder
  sent, so a message delivered twice notifies once. Then it pushes `notification.created` to
  `task-updates`. The same transaction queues the reminder.fired webhook deliveries and, when
  SMTP_URL is set and the user gave an address, the email (agents/webhooks.py, agents/email.py send them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from db import notifications as notification_queries
from db import reminders as queries
from db.serialize import iso
from streams.app import app
from streams.events import UndecodableEvent, decode_event
from streams.settings import get_settings
from streams.topics import reminders as reminders_topic
from streams.topics import task_events, task_updates

from .fan_out import dead_letter

log = logging.getLogger(__name__)

#: How often every worker looks for due reminders; one due within the tick is waited for precisely.
TICK = 0.2
MIN_WAIT = 0.02
#: Reminders leased per query; a tick keeps leasing while it gets full batches.
CLAIM_BATCH = 500
#: The notifier takes up to this many messages at once and writes them in one transaction.
NOTIFY_BATCH = 500
NOTIFY_WITHIN = 0.05
#: Attempts of a database write before the agent gives up on one message (and logs it).
ATTEMPTS = 5


async def _with_retries(what: str, action) -> Any:
    """Retry a transaction a few times with a short backoff: the database may be restarting."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if attempt == ATTEMPTS:
                raise
            log.warning("%s failed (attempt %d of %d): %s", what, attempt, ATTEMPTS, exc)
            await asyncio.sleep(0.2 * 2 ** attempt)


# Keeping reminders in step with their tasks -------------------------------------------------------


@app.agent(task_events)
async def follow_tasks(stream):
    async for event in stream.events():
        message = event.message
        try:
            record = decode_event(event.value)
        except UndecodableEvent:
            continue  # the fan-out agent reads the same message and parks it in the dead-letter topic
        if record.event_type == "updated" and "due_date" in record.changes:
            action = queries.follow_due_date
        elif record.event_type in ("completed", "deleted"):
            action = queries.drop_if_finished
        else:
            continue
        task_id = uuid.UUID(record.task_id)

        async def apply(action=action, task_id=task_id) -> Any:  # bound now: called within this iteration
            async with app.database.transaction() as session:
                return await action(session, task_id)

        where = f"{message.topic}/{message.partition}/{message.offset}"
        try:
            result = await _with_retries(f"{action.__name__} for task {task_id} (event {record.event_id}, {where})",
                                         apply)
        except Exception as exc:
            log.error("could not apply %s event %s of task %s to its reminders (%s): %s",
                      record.event_type, record.event_id, task_id, where, exc)
            continue
        log.debug("reminders of task %s after %s event %s: %s", task_id, record.event_type, record.event_id, result)


# The schedule -----------------------------------------------------------------------------------


def reminder_message(row: Any) -> dict[str, Any]:
    """What the `reminders` topic carries (the wire contract in the README)."""
    return {"reminder_id": str(row.id), "task_id": str(row.task_id), "remind_at": iso(row.remind_at)}


@app.timer(TICK, name="schedule_reminders")
async def schedule_reminders() -> None:
    if not app.group_joined.is_set():
        return  # the producer and the topics are not ready before the worker joined its group
    # Within one tick, reminders due before it ends are waited for precisely (at most every
    # MIN_WAIT), so they fire on time rather than up to a tick late; one created meanwhile and due
    # within the tick is at most a tick late.
    ends = app.loop.time() + TICK
    try:
        while True:
            while await _claim_and_emit() == CLAIM_BATCH:
                pass  # a backlog (e.g. after a restart): keep going without waiting for the next tick
            async with app.database.autocommit() as session:
                wait = await queries.seconds_to_next(session)
            if wait is None or app.loop.time() + wait >= ends:
                return
            await asyncio.sleep(max(MIN_WAIT, wait))
    except Exception as exc:
        log.warning("reminder scheduler could not read due reminders: %s", exc)


async def _claim_and_emit() -> int:
    async with app.database.transaction() as session:
        due = await queries.claim_due(session, limit=CLAIM_BATCH)
    if due:
        await _emit(due)
    return len(due)


async def _emit(rows: Iterable[Any]) -> None:
    """Hand the reminders to the producer. Acks are not waited for: the scheduler moves on to the next
    due reminders, and one the broker never confirms goes out again when its lease ends. `send`
    itself waits while the producer's buffer is full, which is what paces a large backlog (a claimed
    batch of CLAIM_BATCH leaves well within the lease)."""
    for row in rows:
        try:
            future = await reminders_topic.send(
                key=row.user_id.encode(), value=json.dumps(reminder_message(row)).encode(),
            )
        except Exception as exc:
            log.warning("could not send reminder %s (task %s) to %s; it goes out again when its lease ends: %s",
                        row.id, row.task_id, reminders_topic.get_topic_name(), exc)
            continue
        future.add_done_callback(partial(_confirmed, row.id, row.task_id))


def _confirmed(reminder_id: Any, task_id: Any, future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("reminder %s (task %s) was not confirmed by %s; it goes out again when its lease ends: %s",
                    reminder_id, task_id, reminders_topic.get_topic_name(), future.exception())


# The notifier -----------------------------------------------------------------------------------


class UndecodableReminder(ValueError):
    """A message on `reminders` that is not {reminder_id, task_id, remind_at} keyed by user_id."""


def decode_reminder(key: bytes | None, value: bytes | None) -> tuple[str, uuid.UUID, datetime]:
    """(user_id, reminder_id, remind_at) from a `reminders` message, or UndecodableReminder saying why."""
    try:
        data = json.loads(value or b"")
        user_id = (key or b"").decode()
        if not user_id:
            raise ValueError("no key (user_id)")
        remind_at = datetime.fromisoformat(data["remind_at"])
        if remind_at.tzinfo is None:
            raise ValueError("remind_at has no offset")
        return user_id, uuid.UUID(data["reminder_id"]), remind_at.astimezone(UTC)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UndecodableReminder(f"not a reminder message: {exc}") from None


async def _deliver(batch: dict[str, list[tuple[uuid.UUID, datetime]]]) -> list[notification_queries.Delivered]:
    """One transaction, a handful of set-based statements, for every user in the batch."""
    email = get_settings().smtp_url is not None
    async with app.database.transaction() as session:
        return await notification_queries.deliver_batch(
            session,
            {user_id: ([ident for ident, _ in items], min(at for _, at in items)) for user_id, items in batch.items()},
            email=email,
        )


@app.agent(reminders_topic)
async def notify_reminders(stream):
    async for events in stream.take_events(NOTIFY_BATCH, within=NOTIFY_WITHIN):
        batch: dict[str, list[tuple[uuid.UUID, datetime]]] = defaultdict(list)
        where: dict[str, str] = {}
        for event in events:
            message = event.message
            try:
                user_id, reminder_id, remind_at = decode_reminder(message.key, event.value)
            except UndecodableReminder as exc:
                await dead_letter(message, exc)
                continue
            batch[user_id].append((reminder_id, remind_at))
            where.setdefault(user_id, f"{message.topic}/{message.partition}/{message.offset}")
        if not batch:
            continue
        delivered: list[notification_queries.Delivered] = []
        try:
            delivered = await _with_retries(f"delivering {len(events)} reminders", lambda batch=batch: _deliver(batch))
        except Exception as exc:
            # One user's bad row must not hold back everyone else's: deliver user by user.
            log.warning("batch delivery of %d reminders failed (%s); retrying user by user", len(events), exc)
            for user_id, items in batch.items():
                try:
                    delivered += await _deliver({user_id: items})
                except Exception as user_exc:
                    # Still unsent in Postgres: the scheduler sends them again when their lease ends.
                    log.error("could not deliver reminders %s of user %s (from %s); retried after the %s lease: %s",
                              [str(i) for i, _ in items], user_id, where[user_id], queries.CLAIM_LEASE, user_exc)
        await _push(delivered)


async def _push(results: list[notification_queries.Delivered]) -> None:
    """Tell the user's devices (via task-updates); the notification is already stored either way."""
    for result in results:
        notification = result.notification
        if notification is None:
            continue
        user_id = result.user_id
        update = {
            "type": "notification.created",
            "notification": notification,
            "occurred_at": iso(datetime.now(UTC)),
        }
        try:
            await task_updates.send(key=user_id.encode(), value=json.dumps(update).encode())
        except Exception as exc:
            log.warning("could not push notification %s to %s: %s", notification["id"],
                        task_updates.get_topic_name(), exc)
