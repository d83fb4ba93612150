"""Reminder agents: keep the schedule (tables/reminder_schedule.py) in step, fire it, notify.

* `follow_reminders` consumes `task-events` and `reminder-schedule` (both keyed by user_id, so
  co-partitioned with the table's changelog). For an event that can change a task's reminders it
  applies the change in Postgres (moves relative reminders when the due date moves, drops a
  finished task's), re-reads the task's unsent reminders and reconciles the table with them.
  `reminder-schedule` carries "this task's reminders changed" from the API, written through the
  outbox with the change. Re-reading instead of trusting the event makes a replay harmless.
* `fire_due_reminders` (a loop on every worker) sends each due window to `reminders` as one
  message. Emission is driven by this loop, not by Faust's `on_window_close` (which fires for one
  key only).
* `notify_reminders` (reminders) re-checks the reminders in Postgres and, in ONE transaction,
  inserts the notification (UNIQUE reminder_id, ON CONFLICT DO NOTHING) and marks them sent, so a
  message delivered twice (a worker killed between emitting and recording, a replay) notifies
  once. The same transaction queues webhook deliveries and email. Then it reconciles the table for
  the tasks it covered (sent reminders leave their window) and pushes `notification.created` to
  `task-updates`. A window it could not deliver stays in the table and is sent again after the lease.
* `sweep_overdue` is the backstop: every SWEEP seconds it puts back overdue reminders the table lost.

Failures follow the consumers' policy (agents/__init__.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from functools import partial
from typing import Any

from db import notifications as notification_queries
from db import reminders as queries
from streams import metrics
from streams.app import app
from streams.batches import take_batches
from streams.events import (
    REMINDER_SCHEDULE,
    REMINDERS,
    TASK_EVENTS,
    TASK_UPDATES,
    decode_event,
    decode_reminders,
    decode_schedule_change,
    encode,
    notification_update,
    reminders_message,
)
from streams.producer import batching_producer
from streams.settings import get_settings
from tables import reminder_schedule
from tables.reminder_schedule import LEASE, WindowKey

from .failures import Consumer, retry
from .webhooks import wake_dispatcher

log = logging.getLogger(__name__)

#: Longest the firing loop sleeps while windows are scheduled (new earlier windows wake it at once).
IDLE = 1.0
#: How often the backstop looks for overdue reminders the schedule lost.
SWEEP = 2.0
#: The reminder agent applies up to this many messages' changes in one transaction.
FOLLOW_BATCH = 500
FOLLOW_WITHIN = 0.05
#: The notifier takes up to this many messages at once and writes them in one transaction.
NOTIFY_BATCH = 500
NOTIFY_WITHIN = 0.05
#: Attempts at rebuilding the schedule after a recovery before leaving it to the sweep.
REBUILD_ATTEMPTS = 5

follower = Consumer("follow_reminders")
notifier = Consumer("notify_reminders")


@reminder_schedule.table.on_recover
async def _recovered() -> None:
    """After every rebalance: index what the changelog restored, then catch up with Postgres."""
    reminder_schedule.index_restored()
    try:
        await retry("rebuilding the reminder schedule", reminder_schedule.rebuild, attempts=REBUILD_ATTEMPTS)
    except Exception as exc:
        # The sweep still fires whatever is overdue; the next rebalance rebuilds again.
        log.error("could not rebuild the reminder schedule from Postgres: %s: %s", type(exc).__name__, exc)


# Keeping the table in step with Postgres --------------------------------------------------------

schedule_sources = app.topic(TASK_EVENTS, REMINDER_SCHEDULE, key_serializer="raw", value_serializer="raw")


def affected_task(message: Any) -> tuple[uuid.UUID, Any] | None:
    """(task id, the Postgres change to apply first or None) for a message that can change a task's
    reminders; None for the rest."""
    if message.topic == REMINDER_SCHEDULE:
        return decode_schedule_change(message.value), None
    record = decode_event(message.value)
    task_id = uuid.UUID(record.task_id)
    if record.event_type == "updated" and "due_date" in record.changes:
        return task_id, queries.follow_due_date
    if record.event_type in ("completed", "deleted"):
        return task_id, queries.drop_if_finished
    if record.event_type == "created" and (record.after or {}).get("recurring_task_id"):
        return task_id, None  # an occurrence: its template's reminder offsets were inserted with it
    return None


async def apply_changes(changes: list[tuple[uuid.UUID, Any]]) -> int:
    """Apply the changes in one transaction, then one read of the affected tasks' reminders."""
    changes = list(dict.fromkeys(changes))
    if any(change is not None for _, change in changes):
        async with app.database.transaction() as session:
            for task_id, change in changes:
                if change is not None:
                    await change(session, task_id)
    written = await reminder_schedule.reconcile_tasks({task_id for task_id, _ in changes})
    log.debug("reminders of %d tasks in step: %d windows written", len(changes), written)
    return written


@app.agent(schedule_sources)
async def follow_reminders(stream):
    # Batches: a round trip per event falls behind under load, and Faust pauses the topic for
    # every agent when one does.
    async for events in take_batches(stream, FOLLOW_BATCH, within=FOLLOW_WITHIN):
        batch = await follower.decode(events, affected_task)
        await follower.process(batch, apply_changes, what="scheduling the reminders of their tasks")


@app.timer(SWEEP, name="sweep_overdue_reminders")
async def sweep_overdue() -> None:
    await reminder_schedule.catch_up_overdue()


# Firing -----------------------------------------------------------------------------------------


async def _fire(now: float) -> None:
    producer = await batching_producer(app)
    for (user_id, window), value in reminder_schedule.take_due(now):
        try:
            future = await producer.send(REMINDERS, key=user_id.encode(),
                                         value=encode(reminders_message(user_id, window, value)))
        except Exception as exc:
            log.warning("could not send the reminders of user %s to %s; sent again in %.0f s: %s",
                        user_id, REMINDERS, LEASE, exc)
            continue
        future.add_done_callback(partial(_confirmed, user_id))


def _confirmed(user_id: str, future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("reminders of user %s were not confirmed by %s; sent again in %.0f s: %s",
                    user_id, REMINDERS, LEASE, future.exception())


@app.task
async def fire_due_reminders() -> None:
    while True:
        now = time.time()
        if reminder_schedule.next_due() is not None and reminder_schedule.index.active:
            try:
                await _fire(now)
            except Exception as exc:  # never let the loop die: the schedule would stop
                log.exception("firing due reminders failed: %s", exc)
        due = reminder_schedule.next_due()
        # Nothing scheduled: sleep until a window enters the empty schedule (its due_at wakes us).
        delay = None if due is None else min(IDLE, max(0.0, due - time.time()))
        reminder_schedule.index.wakeup.clear()
        try:
            await asyncio.wait_for(reminder_schedule.index.wakeup.wait(), timeout=delay)
        except asyncio.TimeoutError:
            pass


# The notifier -----------------------------------------------------------------------------------


async def _deliver(users: list[tuple[str, list[tuple[uuid.UUID, datetime]]]]) -> list[notification_queries.Delivered]:
    """One transaction, a handful of set-based statements, for every user in the batch."""
    email = get_settings().smtp_url is not None
    async with app.database.transaction() as session:
        delivered = await notification_queries.deliver_batch(
            session, {user_id: ([ident for ident, _ in items], min(at for _, at in items)) for user_id, items in users},
            email=email,
        )
    if delivered:
        wake_dispatcher()  # their webhook events were queued in the same transaction
    observe_delivered(delivered)
    return delivered


def observe_delivered(delivered: list[notification_queries.Delivered]) -> None:
    """Count what was committed as sent, per reminder, with its lateness as stored (sent_at - remind_at)."""
    for result in delivered:
        if result.notification is None or result.sent_at is None:
            continue
        metrics.REMINDERS_SENT.inc(len(result.reminder_ids))
        for remind_at in result.remind_at:
            metrics.REMINDER_LATENESS.observe(max(0.0, (result.sent_at - remind_at).total_seconds()))


@app.agent(app.topic(REMINDERS, key_serializer="raw", value_serializer="raw"))
async def notify_reminders(stream):
    async for events in take_batches(stream, NOTIFY_BATCH, within=NOTIFY_WITHIN):
        due = await notifier.decode(events, lambda message: decode_reminders(message.key, message.value))
        by_user: dict[str, list[tuple[uuid.UUID, datetime]]] = defaultdict(list)
        first: dict[str, Any] = {}  # the first message that named the user, for logs and dead letters
        tasks: set[uuid.UUID] = set()
        windows: dict[WindowKey, set[str]] = defaultdict(set)  # the reminder ids each message named
        for message, window in due:
            for reminder_id, task_id, remind_at in window.reminders:
                by_user[window.user_id].append((reminder_id, remind_at))
                tasks.add(task_id)
                windows[(window.user_id, reminder_schedule.window_of(remind_at.timestamp()))].add(str(reminder_id))
            first.setdefault(window.user_id, message)
        if not by_user:
            continue
        # One user's bad row must not hold back everyone else's: on an error, user by user.
        results = await notifier.process([(first[user_id], (user_id, items)) for user_id, items in by_user.items()],
                                         _deliver, what="delivering reminder windows")
        try:
            await retry("updating the reminder schedule", partial(reminder_schedule.reconcile_tasks, tasks))
        except Exception as exc:
            log.error("could not update the reminder schedule after delivery (sent ones are skipped when they "
                      "fire again): %s", exc)
        reminder_schedule.delivered(windows)
        await push_notifications([result for delivered in results for result in delivered])


async def push_notifications(results: list[notification_queries.Delivered]) -> None:
    """Tell the user's devices (via task-updates); the notification is already stored either way."""
    producer = await batching_producer(app)
    for result in results:
        if result.notification is None:
            continue
        update = notification_update(result.notification, now=datetime.now(UTC))
        try:
            await producer.send(TASK_UPDATES, key=result.user_id.encode(), value=encode(update))
        except Exception as exc:
            log.warning("could not push notification %s to %s: %s", result.notification["id"], TASK_UPDATES, exc)
