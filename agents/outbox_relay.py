"""Outbox relay: publishes committed events right after commit and re-publishes whatever was left behind."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from datetime import timedelta
from typing import Any, Iterable

from mode import Service

from db import outbox as queries
from db.outbox import PendingEvent
from streams import metrics
from streams.app import app
from streams.producer import batching_producer

log = logging.getLogger(__name__)

BATCH = 500
SCAN_INTERVAL = 1.0
PURGE_AFTER = timedelta(hours=24)
#: A stopping worker publishes what it still holds for at most this long; whatever is left stays in
#: the outbox for the next sweep (of any worker).
FLUSH_ON_STOP = 5.0


class OutboxRelay(Service):
    """One per worker. Writers hand it events after commit (never waiting for the broker);
    it sends them in order, confirms them in the outbox, and every second sweeps the outbox
    for rows nobody confirmed (broker down, process killed between commit and publish)."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app
        self._queue: deque[PendingEvent] = deque()
        self._wakeup = asyncio.Event()
        # Outbox ids queued or being sent here, so the sweep never queues the same row twice.
        self._known: set[int] = set()
        # One batch at a time, so one user's events reach the topic in commit order.
        self._sending = asyncio.Lock()
        # What the broker confirmed (or refused) and the outbox does not know yet: recorded by one task,
        # in as few transactions as it can, while the next batches are sent (under load, waiting for a
        # pooled connection to record a batch held up every event committed after it).
        self._sent_ok: list[int] = []
        self._sent_failed: dict[str, list[int]] = {}
        self._recording: asyncio.Future | None = None
        self.published = 0
        self.failed = 0

    def enqueue(self, events: Iterable[PendingEvent | None]) -> None:
        """Hand over committed events; returns at once. This worker's sockets get their updates now
        (the gateway, if this worker runs one); every other worker's once the broker has them."""
        events = [event for event in events if event is not None]
        gateway = self.app.built("gateway")
        if gateway is not None:
            gateway.deliver_committed(events)
        for event in events:
            if event.outbox_id not in self._known:
                self._known.add(event.outbox_id)
                self._queue.append(event)
        self._wakeup.set()

    @Service.task
    async def _publisher(self) -> None:
        while not self.should_stop:
            if not self._queue:
                self._wakeup.clear()
                await self.wait_first(self._wakeup.wait())  # enqueue wakes it, and so does stopping
                continue
            await self._send_next_batch()

    async def _send_next_batch(self) -> None:
        async with self._sending:
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            try:
                ok, failed = await self._send(batch)
            except BaseException:
                self._known.difference_update(e.outbox_id for e in batch)
                raise
            self._record(ok, failed)

    async def on_stop(self) -> None:
        """Publish what the last requests handed over while the producer still runs (it stops after
        this service), so a worker stopping normally leaves nothing behind for another's sweep."""
        if not self._queue and not self._sending.locked() and (self._recording is None or self._recording.done()):
            return
        published, failed = self.published, self.failed
        try:
            await asyncio.wait_for(self._flush(), FLUSH_ON_STOP)
        except asyncio.TimeoutError:
            log.warning("stopping after %.0f s without the broker's confirmation of every event (%d more were "
                        "queued; is the broker reachable?); they stay in the outbox and the next sweep of any worker "
                        "publishes them", FLUSH_ON_STOP, len(self._queue))
        else:
            log.info("published %d events while stopping; %d failed and stay in the outbox for the next sweep",
                     self.published - published, self.failed - failed)

    async def _flush(self) -> None:
        async with self._sending:
            pass  # the batch being sent now, if any, is confirmed first
        while self._queue:
            await self._send_next_batch()
        if self._recording is not None:
            await asyncio.shield(self._recording)

    async def _send(self, batch: list[PendingEvent]) -> tuple[list[int], dict[str, list[int]]]:
        """Send the batch and wait for the broker: the outbox ids it confirmed, and those it refused by error."""
        producer = await batching_producer(self.app)
        sent_at = time.perf_counter()
        pending: list[tuple[PendingEvent, Any]] = []
        ok: list[int] = []
        failed: dict[str, list[int]] = {}
        for event in batch:
            try:
                future = await producer.send(
                    event.topic, key=event.key.encode(), value=json.dumps(event.payload).encode(),
                    headers=[("event_type", event.payload.get("event_type", "").encode())],
                )
                pending.append((event, future))
            except Exception as exc:  # the send could not even be queued: retry later
                failed.setdefault(f"{type(exc).__name__}: {exc}", []).append(event.outbox_id)
                metrics.KAFKA_PUBLISHED.labels(event.topic, "error").inc()
        for event, future in pending:
            try:
                await future
                ok.append(event.outbox_id)
                metrics.KAFKA_PUBLISHED.labels(event.topic, "ok").inc()
                metrics.KAFKA_PUBLISH_LATENCY.labels(event.topic).observe(time.perf_counter() - sent_at)
            except Exception as exc:
                log.warning("publishing event %s to %s failed: %s: %s", event.event_id, event.topic,
                            type(exc).__name__, exc)
                failed.setdefault(f"{type(exc).__name__}: {exc}", []).append(event.outbox_id)
                metrics.KAFKA_PUBLISHED.labels(event.topic, "error").inc()
        return ok, failed

    def _record(self, ok: list[int], failed: dict[str, list[int]]) -> None:
        """Have the outcome of a batch written to the outbox, by the one task that does (started if idle)."""
        self._sent_ok.extend(ok)
        for error, ids in failed.items():
            self._sent_failed.setdefault(error, []).extend(ids)
        if self._recording is None or self._recording.done():
            self._recording = asyncio.ensure_future(self._write_outcomes())

    async def _write_outcomes(self) -> None:
        """Mark what was sent as published (or failed), everything that came in meanwhile at once. The ids
        stay known until then, so the sweep does not take a row that is on the broker as left behind."""
        while self._sent_ok or self._sent_failed:
            ok, failed = self._sent_ok, self._sent_failed
            self._sent_ok, self._sent_failed = [], {}
            try:
                async with self.app.database.transaction() as session:
                    await queries.mark_published(session, ok)
                    for error, ids in failed.items():
                        await queries.mark_failed(session, ids, error)
            except Exception as exc:
                # The events are on the broker; at worst the relay sends them again (consumers dedupe).
                log.warning("could not record %d published events in the outbox: %s: %s", len(ok),
                            type(exc).__name__, exc)
            finally:
                self._known.difference_update(ok)
                for ids in failed.values():
                    self._known.difference_update(ids)
            self.published += len(ok)
            self.failed += sum(len(ids) for ids in failed.values())

    @Service.timer(SCAN_INTERVAL)
    async def _sweep(self) -> None:
        """Re-publish rows left unpublished past their lease or backoff."""
        try:
            # Nearly always nothing is due: one read answers that, without a transaction and an UPDATE.
            async with self.app.database.autocommit() as session:
                if not await queries.any_due(session):
                    return
            async with self.app.database.transaction() as session:
                claimed = await queries.claim_pending(session, limit=BATCH, exclude=set(self._known))
        except Exception as exc:
            log.warning("outbox sweep could not read the outbox: %s: %s", type(exc).__name__, exc)
            return
        if claimed:
            log.info("re-publishing %d events left in the outbox", len(claimed))
            self.enqueue(claimed)

    @Service.timer(3600.0)
    async def _purge(self) -> None:
        try:
            async with self.app.database.transaction() as session:
                removed = await queries.purge_published(session, older_than=PURGE_AFTER)
        except Exception as exc:
            log.warning("outbox purge failed: %s: %s", type(exc).__name__, exc)
            return
        if removed:
            log.info("purged %d published outbox rows older than %s", removed, PURGE_AFTER)


app.provide("outbox", lambda app: OutboxRelay(app, loop=app.loop, beacon=app.beacon))
