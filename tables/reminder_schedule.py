"""The reminder schedule: a windowed Faust table of pending reminders, its index, reconcile and rebuild.

Postgres holds every reminder and is the truth; the table `reminder-schedule` holds the pending ones,
keyed by user and windowed by due time (tumbling windows of WINDOW seconds): one entry per
(user_id, window) maps reminder id -> [task_id, remind_at]. A window is the batching unit: the
user's reminders due in it go out as one message and one notification.

* `reconcile` makes the table hold exactly what Postgres says for some tasks; the agents in
  agents/reminders.py call it after every change they apply and every delivery, so a replayed
  message is harmless (they re-read Postgres rather than trust the message).
* After every rebalance's table recovery, `index_restored` indexes what the changelog restored and
  `rebuild` reconciles the partitions this worker owns with Postgres: a worker that starts against
  an empty broker, or after the changelog is gone, has the whole schedule again before its agents
  resume, and what is overdue fires at once.
* The index keeps the windows in a heap by firing time - the latest remind_at in the window, so a
  window fires when all of it is due. `take_due` hands the firing loop the windows due now. A
  window stays in the table until the notifier has delivered it; one not delivered within LEASE
  seconds comes due again.
* `catch_up_overdue` is the backstop: it reconciles the tasks whose reminders are overdue by more
  than GRACE (a lost message, a row written to Postgres by hand).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner

from db import reminders as queries
from streams.app import app
from streams.events import TASK_EVENTS, iso

log = logging.getLogger(__name__)

#: Width of a schedule window (seconds): same-user reminders due within one go out together.
WINDOW = 1.0
#: A window sent to `reminders` and still in the table this long afterwards is sent again.
LEASE = 10.0
#: The backstop: how overdue a reminder must be before it counts as missed, and how many tasks a pass takes.
GRACE = timedelta(seconds=5)
SWEEP_LIMIT = 500

WindowKey = tuple[str, tuple[float, float]]


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


table = app.tables.add(ScheduleTable(
    app, name="reminder-schedule", beacon=app.tables.beacon,
    help="Pending reminders by user and due-time window: reminder id -> [task id, remind_at epoch].",
))
#: No expiry: a window leaves the table when the notifier has delivered it, never by age.
schedule = table.tumbling(WINDOW)


def window_of(remind_at: float) -> tuple[float, float]:
    return table.window.current(remind_at)


def fire_time(value: dict[str, Any]) -> float:
    """A window fires when everything in it is due."""
    return max(remind_at for _, remind_at in value.values())


# The index --------------------------------------------------------------------------------------


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


# Keeping the table in step with Postgres --------------------------------------------------------


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
            touched[key] = dict(table.data.get(key) or {})
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
        elif key in table.data:
            del schedule[user_id][window_range]
            index.inflight.pop(key, None)
    return len(touched)


async def reconcile_tasks(task_ids: Iterable[uuid.UUID]) -> int:
    """Reconcile these tasks with their unsent reminders as Postgres has them now."""
    task_ids = list(task_ids)
    async with app.database.autocommit() as session:
        rows = await queries.pending_for_tasks(session, task_ids)
    return reconcile((str(t) for t in task_ids), rows)


def index_restored() -> None:
    """After a recovery: take the partitions this worker now owns and index what the changelog restored."""
    index.active = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == TASK_EVENTS}
    index.load(table.data.items())


async def rebuild() -> None:
    """Reconcile the table with every unsent reminder in Postgres of the partitions this worker owns."""
    started = time.monotonic()
    partitions = table.partition_count
    indexed_before = set(index.entries)
    rows: list[Any] = []
    async for page in queries.pending_pages(app.database):
        rows += [row for row in page if partition_of(row.user_id, partitions) in index.active]
    tasks = {e.task_id for e in index.entries.values() if partition_of(e.user_id, partitions) in index.active}
    written = reconcile(tasks, rows, keep=set(index.entries) - indexed_before)
    log.info("reminder schedule rebuilt from Postgres for partitions %s: %d pending reminders, %d windows "
             "written, in %.0f ms", sorted(index.active), len(rows), written, (time.monotonic() - started) * 1000)


async def catch_up_overdue() -> None:
    """Put back the reminders of this worker's partitions overdue by more than GRACE that the table lost."""
    if not index.active:
        return
    try:
        async with app.database.autocommit() as session:
            task_ids = await queries.overdue_tasks(session, grace=GRACE, limit=SWEEP_LIMIT)
            rows = await queries.pending_for_tasks(session, task_ids)
    except Exception as exc:
        log.warning("reminder sweep could not read overdue reminders: %s: %s", type(exc).__name__, exc)
        return
    partitions = table.partition_count
    mine = [row for row in rows if partition_of(row.user_id, partitions) in index.active]
    if not mine:
        return
    missing = sum(1 for row in mine if str(row.id) not in index.entries)
    reconcile({str(row.task_id) for row in mine}, mine)
    if missing:
        log.warning("reminder sweep found %d overdue reminders the schedule did not hold; firing them now", missing)


# Firing -----------------------------------------------------------------------------------------


def take_due(now: float) -> list[tuple[WindowKey, dict[str, Any]]]:
    """The windows to send to `reminders` now: due, on a partition this worker owns, and not sent in
    the last LEASE seconds. Each is marked in flight and comes due again when its lease is over."""
    partitions = table.partition_count
    due: list[tuple[WindowKey, dict[str, Any]]] = []
    while index.heap and index.heap[0][0] <= now:
        _, user_id, window = heapq.heappop(index.heap)
        key = (user_id, window)
        value = table.data.get(key)
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
        due.append((key, value))
    return due


def delivered(windows: dict[WindowKey, set[str]]) -> None:
    """After the notifier delivered these windows ({window: the reminder ids its message named}) and
    the table was reconciled: reminders that joined a window after it was sent fire now; the ones
    the message named and Postgres could not settle (locked by another notifier) when the lease is over."""
    for key, named in windows.items():
        left = table.data.get(key)
        if left and set(left) - named:
            index.inflight.pop(key, None)
            index.due_at(fire_time(left), key)


def next_due() -> float | None:
    """When the earliest window in the heap fires (epoch seconds), or None when nothing is scheduled."""
    return index.heap[0][0] if index.heap else None
