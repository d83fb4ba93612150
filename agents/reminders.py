"""Reminder agents: the pending schedule in a windowed Faust table, a timer over it, and the notifier.

Postgres holds every reminder and is the truth; the table `reminder-schedule` holds the pending ones,
keyed by user and windowed by due time (tumbling windows of WINDOW seconds): one entry per
(user_id, window) maps reminder id -> [task_id, remind_at]. A window is the batching unit: the
user's reminders due in it go out as one message and one notification.

* `follow_reminders` consumes `task-events` and `reminder-schedule` (both keyed by user_id, so
  co-partitioned with the table's changelog). For an event that can change a task's reminders it
  applies the change in Postgres (moves relative reminders when the due date moves, drops a
  finished task's), re-reads the task's unsent reminders and reconciles the table with them.
  `reminder-schedule` carries "this task's reminders changed" from the API, written through the
  outbox with the change. Re-reading instead of trusting the event makes a replay harmless.
* After every rebalance's table recovery, the worker reconciles the table with Postgres for the
  partitions it owns (`rebuild`): a worker that starts against an empty broker, or after the
  changelog is gone, has the whole schedule again before its agents resume, and what is overdue
  fires at once.
* `fire_due_reminders` (a loop on every worker) keeps a heap of windows by firing time - the
  latest remind_at in the window, so a window fires when all of it is due - and sends each due
  window to `reminders` as one message. Emission is driven by this loop, not by Faust's
  `on_window_close` (which fires for one key only). A window stays in the table until the
  notifier has delivered it; one not delivered within LEASE seconds is sent again.
* `notify_reminders` (reminders) re-checks the reminders in Postgres and, in ONE transaction,
  inserts the notification (UNIQUE reminder_id, ON CONFLICT DO NOTHING) and marks them sent, so a
  message delivered twice (a worker killed between emitting and recording, a replay) notifies
  once. The same transaction queues webhook deliveries and email. Then it reconciles the table for
  the tasks it covered (sent reminders leave their window) and pushes `notification.created` to
  `task-updates`.
* `sweep_overdue` is the backstop: every SWEEP seconds it reconciles the tasks whose reminders are
  overdue by more than GRACE (a lost message, a row written to Postgres by hand).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner

from db import notifications as notification_queries
from db import reminders as queries
from db.serialize import iso
from streams.app import app
from streams.events import UndecodableEvent, decode_event
from streams.producer import batching_producer
from streams.settings import get_settings
from streams.topics import REMINDER_SCHEDULE, TASK_EVENTS
from streams.topics import reminders as reminders_topic
from streams.topics import task_updates

from .fan_out import dead_letter

log = logging.getLogger(__name__)

#: Width of a schedule window (seconds): same-user reminders due within one go out together.
WINDOW = 1.0
#: A window sent to `reminders` and still in the table this long afterwards is sent again.
LEASE = 10.0
#: Longest the firing loop sleeps when nothing is due (new windows wake it at once).
IDLE = 1.0
#: The backstop: how often, and how overdue a reminder must be before it counts as missed.
SWEEP = 2.0
GRACE = timedelta(seconds=5)
SWEEP_LIMIT = 500
#: The reminder agent applies up to this many messages' changes in one transaction.
FOLLOW_BATCH = 500
FOLLOW_WITHIN = 0.05
#: The notifier takes up to this many messages at once and writes them in one transaction.
NOTIFY_BATCH = 500
NOTIFY_WITHIN = 0.05
#: Attempts of a database write before the agent gives up on one message (and logs it).
ATTEMPTS = 5

WindowKey = tuple[str, tuple[float, float]]


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
            log.warning("%s failed (attempt %d of %d): %s: %s", what, attempt, ATTEMPTS, type(exc).__name__, exc)
            await asyncio.sleep(0.2 * 2 ** attempt)


# The table --------------------------------------------------------------------------------------

_partitioner = DefaultPartitioner()


@lru_cache(maxsize=65536)
def partition_of(user_id: str, partitions: int) -> int:
    """The partition a user's messages land on (the producer's default partitioner, key = user_id)."""
    every = list(range(partitions))
    return _partitioner(user_id.encode(), every, every)


class ScheduleTable(faust.Table):
    """A table keyed by (user_id, window) whose changelog partition is the user's partition on the
    source topics. Faust would take the partition of the event being processed; the notifier
    handles batches that span partitions and the rebuild runs outside any event, so the partition
    comes from the key instead - the same one the user's events and reminders are on."""

    @property
    def partition_count(self) -> int:
        return self.partitions or self.app.conf.topic_partitions

    def partition_for_key(self, key: Any) -> int:
        return partition_of(key[0], self.partition_count)


_table = app.tables.add(ScheduleTable(
    app, name="reminder-schedule", beacon=app.tables.beacon,
    help="Pending reminders by user and due-time window: reminder id -> [task id, remind_at epoch].",
))
#: No expiry: a window leaves the table when the notifier has delivered it, never by age.
schedule = _table.tumbling(WINDOW)


def window_of(remind_at: float) -> tuple[float, float]:
    return _table.window.current(remind_at)


@dataclass
class Entry:
    """Where one reminder sits in the table."""

    user_id: str
    window: tuple[float, float]
    task_id: str
    remind_at: float


@dataclass
class ScheduleIndex:
    """This worker's view of the table, kept beside it: where each reminder is, each task's
    reminders, and the windows by firing time. Rebuilt from the table after every recovery."""

    entries: dict[str, Entry] = field(default_factory=dict)
    by_task: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    heap: list[tuple[float, str, tuple[float, float]]] = field(default_factory=list)
    #: Windows sent to `reminders` and not delivered yet: when they were sent (monotonic).
    inflight: dict[WindowKey, float] = field(default_factory=dict)
    #: Partitions this worker owns; the loop fires only their windows (the table may hold standbys).
    active: set[int] = field(default_factory=set)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def remember(self, reminder_id: str, entry: Entry) -> None:
        self.entries[reminder_id] = entry
        self.by_task[entry.task_id].add(reminder_id)

    def forget(self, reminder_id: str) -> None:
        entry = self.entries.pop(reminder_id, None)
        if entry is not None:
            ids = self.by_task.get(entry.task_id)
            if ids is not None:
                ids.discard(reminder_id)
                if not ids:
                    del self.by_task[entry.task_id]

    def due_at(self, fire_at: float, key: WindowKey) -> None:
        if not self.heap or fire_at < self.heap[0][0]:
            self.wakeup.set()
        heapq.heappush(self.heap, (fire_at, key[0], key[1]))

    def load(self, items: Iterable[tuple[Any, Any]]) -> None:
        """Index everything the table holds (after recovery)."""
        self.entries.clear()
        self.by_task.clear()
        self.heap.clear()
        self.inflight.clear()
        for (user_id, window), value in items:
            window = tuple(window)
            for reminder_id, (task_id, remind_at) in (value or {}).items():
                self.remember(reminder_id, Entry(user_id, window, task_id, remind_at))
            if value:
                self.due_at(fire_time(value), (user_id, window))


index = ScheduleIndex()


def fire_time(value: dict[str, Any]) -> float:
    """A window fires when everything in it is due."""
    return max(remind_at for _, remind_at in value.values())


def reconcile(task_ids: Iterable[str], rows: Iterable[Any], *, keep: set[str] | None = None) -> int:
    """Make the table hold exactly `rows` (unsent reminders from Postgres) for the tasks `task_ids`.

    Reminders of those tasks that are gone from `rows` (sent, deleted, dropped) leave their
    window; moved ones change window; new ones join theirs. Reminders in `keep` are never removed
    (the rebuild passes those indexed after it started reading). Returns the windows written.
    """
    desired = {str(row.id): (row.user_id, str(row.task_id), row.remind_at.timestamp()) for row in rows}
    touched: dict[WindowKey, dict[str, Any]] = {}

    def window(key: WindowKey) -> dict[str, Any]:
        if key not in touched:
            touched[key] = dict(_table.data.get(key) or {})
        return touched[key]

    tasks = set(task_ids) | {task_id for _, task_id, _ in desired.values()}
    for task_id in tasks:
        for reminder_id in list(index.by_task.get(task_id, ())):
            entry = index.entries[reminder_id]
            wanted = desired.get(reminder_id)
            if wanted is None and keep is not None and reminder_id in keep:
                continue
            if wanted is None or wanted[2] != entry.remind_at:
                window((entry.user_id, entry.window)).pop(reminder_id, None)
                index.forget(reminder_id)
    for reminder_id, (user_id, task_id, remind_at) in desired.items():
        if reminder_id in index.entries:
            continue
        entry = Entry(user_id, window_of(remind_at), task_id, remind_at)
        window((user_id, entry.window))[reminder_id] = [task_id, remind_at]
        index.remember(reminder_id, entry)
    for key, value in touched.items():
        user_id, window_range = key
        if value:
            schedule[user_id][window_range] = value
            index.due_at(fire_time(value), key)
        elif key in _table.data:
            del schedule[user_id][window_range]
            index.inflight.pop(key, None)
    return len(touched)


async def reconcile_tasks(task_ids: Iterable[uuid.UUID]) -> int:
    task_ids = list(task_ids)
    async with app.database.autocommit() as session:
        rows = await queries.pending_for_tasks(session, task_ids)
    return reconcile((str(t) for t in task_ids), rows)


async def rebuild() -> None:
    """Reconcile the table with every unsent reminder in Postgres of the partitions this worker owns."""
    started = time.monotonic()
    partitions = _table.partition_count
    indexed_before = set(index.entries)
    rows: list[Any] = []
    async for page in queries.pending_pages(app.database):
        rows += [row for row in page if partition_of(row.user_id, partitions) in index.active]
    tasks = {e.task_id for e in index.entries.values() if partition_of(e.user_id, partitions) in index.active}
    written = reconcile(tasks, rows, keep=set(index.entries) - indexed_before)
    log.info("reminder schedule rebuilt from Postgres for partitions %s: %d pending reminders, %d windows "
             "written, in %.0f ms", sorted(index.active), len(rows), written, (time.monotonic() - started) * 1000)


@schedule.on_recover
async def _recovered() -> None:
    """After every rebalance: index what the changelog restored, then catch up with Postgres."""
    index.active = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == TASK_EVENTS}
    index.load(_table.data.items())
    try:
        await _with_retries("rebuilding the reminder schedule", rebuild)
    except Exception as exc:
        # The sweep still fires whatever is overdue; the next rebalance rebuilds again.
        log.error("could not rebuild the reminder schedule from Postgres: %s: %s", type(exc).__name__, exc)


# Keeping the table in step with Postgres --------------------------------------------------------

schedule_sources = app.topic(TASK_EVENTS, REMINDER_SCHEDULE, key_serializer="raw", value_serializer="raw")


def _affected_task(topic: str, value: bytes | None) -> tuple[uuid.UUID, Any] | None:
    """(task id, the Postgres change to apply first or None) for a message that can change a task's
    reminders; None for the rest."""
    if topic == REMINDER_SCHEDULE:
        try:
            return uuid.UUID(json.loads(value or b"")["task_id"]), None
        except (ValueError, KeyError, TypeError) as exc:
            raise UndecodableEvent(f"not a reminder-schedule message: {exc}") from None
    record = decode_event(value)
    task_id = uuid.UUID(record.task_id)
    if record.event_type == "updated" and "due_date" in record.changes:
        return task_id, queries.follow_due_date
    if record.event_type in ("completed", "deleted"):
        return task_id, queries.drop_if_finished
    if record.event_type == "created" and (record.after or {}).get("recurring_task_id"):
        return task_id, None  # an occurrence: its template's reminder offsets were inserted with it
    return None


@app.agent(schedule_sources)
async def follow_reminders(stream):
    # Batches: the changes of up to FOLLOW_BATCH messages in one transaction, then one read of the
    # affected tasks' reminders (a round trip per event falls behind under load, and Faust pauses
    # the topic for every agent when one does).
    async for events in stream.take_events(FOLLOW_BATCH, within=FOLLOW_WITHIN):
        changes: list[tuple[uuid.UUID, Any]] = []
        for event in events:
            message = event.message
            try:
                affected = _affected_task(message.topic, event.value)
            except UndecodableEvent:
                if message.topic == REMINDER_SCHEDULE:
                    await dead_letter(message, ValueError("not a reminder-schedule message"))
                continue  # task-events: the fan-out agent parks it in the dead-letter topic
            if affected is not None and affected not in changes:
                changes.append(affected)
        if not changes:
            continue

        async def apply(changes=changes) -> int:  # bound now: called within this iteration
            if any(change is not None for _, change in changes):
                async with app.database.transaction() as session:
                    for task_id, change in changes:
                        if change is not None:
                            await change(session, task_id)
            return await reconcile_tasks({task_id for task_id, _ in changes})

        first, last = events[0].message, events[-1].message
        where = f"{first.topic}/{first.partition}/{first.offset} .. {last.topic}/{last.partition}/{last.offset}"
        try:
            written = await _with_retries(f"scheduling the reminders of {len(changes)} tasks ({where})", apply)
        except Exception as exc:
            # The sweep picks the tasks up once a reminder of theirs is overdue.
            log.error("could not bring the reminders of tasks %s in step (%s): %s: %s",
                      sorted(str(task_id) for task_id, _ in changes), where, type(exc).__name__, exc)
            continue
        log.debug("reminders of %d tasks after %s: %d windows written", len(changes), where, written)


@app.timer(SWEEP, name="sweep_overdue_reminders")
async def sweep_overdue() -> None:
    if not index.active:
        return
    try:
        async with app.database.autocommit() as session:
            task_ids = await queries.overdue_tasks(session, grace=GRACE, limit=SWEEP_LIMIT)
            rows = await queries.pending_for_tasks(session, task_ids)
    except Exception as exc:
        log.warning("reminder sweep could not read overdue reminders: %s: %s", type(exc).__name__, exc)
        return
    partitions = _table.partition_count
    mine = [row for row in rows if partition_of(row.user_id, partitions) in index.active]
    if not mine:
        return
    missing = sum(1 for row in mine if str(row.id) not in index.entries)
    reconcile({str(row.task_id) for row in mine}, mine)
    if missing:
        log.warning("reminder sweep found %d overdue reminders the schedule did not hold; firing them now", missing)


# Firing -----------------------------------------------------------------------------------------


def reminders_message(user_id: str, window: tuple[float, float], value: dict[str, Any]) -> dict[str, Any]:
    """What the `reminders` topic carries (the wire contract in the README): one user's window."""
    return {
        "user_id": user_id,
        "window_start": iso(datetime.fromtimestamp(window[0], UTC)),
        "reminders": [
            {"reminder_id": reminder_id, "task_id": task_id, "remind_at": iso(datetime.fromtimestamp(at, UTC))}
            for reminder_id, (task_id, at) in sorted(value.items(), key=lambda item: (item[1][1], item[0]))
        ],
    }


async def _fire(now: float) -> None:
    partitions = _table.partition_count
    producer = await batching_producer(app)
    while index.heap and index.heap[0][0] <= now:
        _, user_id, window = heapq.heappop(index.heap)
        key = (user_id, window)
        value = _table.data.get(key)
        if not value or partition_of(user_id, partitions) not in index.active:
            continue
        fire_at = fire_time(value)
        if fire_at > now:
            heapq.heappush(index.heap, (fire_at, user_id, window))  # it gained a later reminder
            continue
        sent = index.inflight.get(key)
        if sent is not None and time.monotonic() - sent < LEASE:
            continue  # on its way; re-checked when the lease is over
        if sent is not None:
            log.warning("reminders of user %s due at %s were not delivered within %.0f s; sending again",
                        user_id, iso(datetime.fromtimestamp(fire_at, UTC)), LEASE)
        index.inflight[key] = time.monotonic()
        heapq.heappush(index.heap, (now + LEASE, user_id, window))
        try:
            future = await producer.send(
                reminders_topic.get_topic_name(), key=user_id.encode(),
                value=json.dumps(reminders_message(user_id, window, value)).encode(),
            )
        except Exception as exc:
            log.warning("could not send the reminders of user %s to %s; sent again in %.0f s: %s",
                        user_id, reminders_topic.get_topic_name(), LEASE, exc)
            continue
        future.add_done_callback(partial(_confirmed, user_id))


def _confirmed(user_id: str, future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("reminders of user %s were not confirmed by %s; sent again in %.0f s: %s",
                    user_id, reminders_topic.get_topic_name(), LEASE, future.exception())


@app.task
async def fire_due_reminders() -> None:
    while True:
        now = time.time()
        if index.heap and index.active:
            try:
                await _fire(now)
            except Exception as exc:  # never let the loop die: the schedule would stop
                log.exception("firing due reminders failed: %s", exc)
        delay = IDLE if not index.heap else min(IDLE, max(0.0, index.heap[0][0] - time.time()))
        index.wakeup.clear()
        try:
            await asyncio.wait_for(index.wakeup.wait(), timeout=delay)
        except asyncio.TimeoutError:
            pass


# The notifier -----------------------------------------------------------------------------------


class UndecodableReminder(ValueError):
    """A message on `reminders` that is not {user_id, window_start, reminders: [...]} keyed by user_id."""


@dataclass(frozen=True)
class DueWindow:
    user_id: str
    reminders: list[tuple[uuid.UUID, uuid.UUID, datetime]]  # (reminder id, task id, remind_at)


def decode_reminders(key: bytes | None, value: bytes | None) -> DueWindow:
    """One user's due window from a `reminders` message, or UndecodableReminder saying why."""
    try:
        data = json.loads(value or b"")
        user_id = (key or b"").decode()
        if not user_id:
            raise ValueError("no key (user_id)")
        if data["user_id"] != user_id:
            raise ValueError("user_id differs from the key")
        items = []
        for item in data["reminders"]:
            remind_at = datetime.fromisoformat(item["remind_at"])
            if remind_at.tzinfo is None:
                raise ValueError("remind_at has no offset")
            items.append((uuid.UUID(item["reminder_id"]), uuid.UUID(item["task_id"]), remind_at.astimezone(UTC)))
        if not items:
            raise ValueError("no reminders")
        return DueWindow(user_id, items)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UndecodableReminder(f"not a reminders message: {exc}") from None


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
        tasks: set[uuid.UUID] = set()
        windows: dict[WindowKey, set[str]] = defaultdict(set)  # the reminder ids each message named
        where: dict[str, str] = {}
        for event in events:
            message = event.message
            try:
                due = decode_reminders(message.key, event.value)
            except UndecodableReminder as exc:
                await dead_letter(message, exc)
                continue
            for reminder_id, task_id, remind_at in due.reminders:
                batch[due.user_id].append((reminder_id, remind_at))
                tasks.add(task_id)
                windows[(due.user_id, window_of(remind_at.timestamp()))].add(str(reminder_id))
            where.setdefault(due.user_id, f"{message.topic}/{message.partition}/{message.offset}")
        if not batch:
            continue
        delivered: list[notification_queries.Delivered] = []
        try:
            delivered = await _with_retries(f"delivering {len(events)} reminder windows",
                                            lambda batch=batch: _deliver(batch))
        except Exception as exc:
            # One user's bad row must not hold back everyone else's: deliver user by user.
            log.warning("batch delivery of %d reminder windows failed (%s); retrying user by user", len(events), exc)
            for user_id, items in batch.items():
                try:
                    delivered += await _deliver({user_id: items})
                except Exception as user_exc:
                    # Still unsent in Postgres and still in the table: sent again when the lease is over.
                    log.error("could not deliver reminders %s of user %s (from %s); retried in %.0f s: %s",
                              [str(i) for i, _ in items], user_id, where[user_id], LEASE, user_exc)
        try:
            await _with_retries("updating the reminder schedule", partial(reconcile_tasks, tasks))
        except Exception as exc:
            log.error("could not update the reminder schedule after delivery (sent ones are skipped when they "
                      "fire again): %s", exc)
        for key, named in windows.items():
            left = _table.data.get(key)
            # Reminders that joined the window after it was sent fire now; the ones the message
            # named and Postgres could not settle (locked by another notifier) when the lease is over.
            if left and set(left) - named:
                index.inflight.pop(key, None)
                index.due_at(fire_time(left), key)
        await _push(delivered)


async def _push(results: list[notification_queries.Delivered]) -> None:
    """Tell the user's devices (via task-updates); the notification is already stored either way."""
    producer = await batching_producer(app)
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
            await producer.send(task_updates.get_topic_name(), key=user_id.encode(), value=json.dumps(update).encode())
        except Exception as exc:
            log.warning("could not push notification %s to %s: %s", notification["id"],
                        task_updates.get_topic_name(), exc)
