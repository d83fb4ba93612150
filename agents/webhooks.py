"""Outgoing webhooks: queue task.* events per subscription, then POST them, signed, with retries.

Deliveries are rows in Postgres (queued idempotently: UNIQUE (webhook_id, event_id)), so a
worker that dies mid-delivery loses nothing: the claim lease runs out and another worker retries.
Delivery is at-least-once; receivers dedupe on the X-Taskstream-Delivery id (or event_id).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections import defaultdict
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from mode import Service

from db import webhooks as queries
from streams.app import app
from streams.batches import take_batches
from streams.events import decode_event, instant
from streams.rules.webhooks import (
    ALLOW_PRIVATE_HINT, NonPublicAddress, UrlError, backoff, blocked_address, check_host, failure_text, sign,
)
from streams.settings import get_settings
from streams.topics import task_events

from .claims import attempt_due
from .due import wait_before_next_look
from .failures import Consumer

log = logging.getLogger(__name__)

#: With nothing due, the dispatcher reads the next due time again after this long at most. Deliveries
#: this worker queues wake it at once; this bounds the wait only for ones it cannot hear of (queued by a
#: worker that died before dispatching them, or retried from another worker's lease).
IDLE_POLL = 5.0
#: After the database could not be read (or another worker took what was due), the next look.
RETRY_AFTER_ERROR = 1.0
CLAIM_BATCH = 50
QUEUE_BATCH = 500
QUEUE_WITHIN = 0.05
#: Every call is bounded: a slow receiver costs one slot for at most this long.
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5, sock_read=10)
USER_AGENT = "taskstream-webhooks/1"

consumer = Consumer("queue_task_webhooks")

# Set when this worker committed deliveries; the dispatcher sleeps on it instead of polling.
_queued = asyncio.Event()


def wake_dispatcher() -> None:
    """Deliveries were committed on this worker: dispatch them now, not at the next look."""
    _queued.set()


def task_event_data(record) -> dict[str, Any]:
    return {
        "task_id": record.task_id,
        "seq": record.seq,
        "task": record.after if record.after is not None else record.before,
        "changes": record.changes,
    }


def webhook_event(message: Any) -> tuple[str, tuple[str, str, str, dict[str, Any]]]:
    """(webhook event type, (user id, event id, occurred_at, data)) of a task event."""
    record = decode_event(message.value)
    return f"task.{record.event_type}", (record.user_id, record.event_id, instant(record.occurred_at),
                                         task_event_data(record))


async def queue(events: list[tuple[str, tuple[str, str, str, dict[str, Any]]]]) -> None:
    """One transaction, one statement per event type (queued idempotently: a replay queues nothing)."""
    by_type: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = defaultdict(list)
    for event_type, item in events:
        by_type[event_type].append(item)
    async with app.database.transaction() as session:
        for event_type, items in by_type.items():
            await queries.queue_events(session, event_type, items)
    wake_dispatcher()


@app.agent(task_events)
async def queue_task_webhooks(stream):
    # Batches: one round trip per event could not keep up under load, and Faust pauses the topic
    # for every agent when one falls behind.
    async for events in take_batches(stream, QUEUE_BATCH, within=QUEUE_WITHIN):
        batch = await consumer.decode(events, webhook_event)
        await consumer.process(batch, queue, what="queueing webhook deliveries")


class PublicOnlyResolver(AbstractResolver):
    """Resolves webhook hosts and keeps only public addresses, at every delivery (a name that pointed
    somewhere public when the webhook was created may point inside the network now)."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        results = await self._inner.resolve(host, port, family)
        allowed = [result for result in results if blocked_address(result["host"]) is None]
        if not allowed:
            reasons = "; ".join(sorted({str(blocked_address(result["host"])) for result in results}))
            raise NonPublicAddress(f"refused to deliver to {host}: {reasons}; {ALLOW_PRIVATE_HINT}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


@app.service
class WebhookDispatcher(Service):
    """Every worker runs one: claims due deliveries (SKIP LOCKED) and POSTs them concurrently."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http: aiohttp.ClientSession | None = None

    async def on_start(self) -> None:
        self._allow_private = get_settings().webhook_allow_private
        connector = None if self._allow_private else aiohttp.TCPConnector(resolver=PublicOnlyResolver())
        self._http = aiohttp.ClientSession(timeout=TIMEOUT, headers={"User-Agent": USER_AGENT}, connector=connector)

    async def on_stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    @Service.task
    async def _dispatch(self) -> None:
        # Sleeps until woken by this worker's own deliveries or until the next one is due: an idle
        # worker does not open a transaction twice a second to find nothing.
        while not self.should_stop:
            _queued.clear()  # before reading, so deliveries committed meanwhile wake the next wait
            wait = await self._dispatch_due()
            if wait > 0:
                await self.wait_first(_queued, timeout=wait)

    async def _dispatch_due(self) -> float:
        """Attempt what is due now; returns how long to wait before looking again."""
        if self._http is None:
            return RETRY_AFTER_ERROR
        try:
            async with app.database.autocommit() as session:
                due_in = await queries.seconds_until_due(session)
        except Exception as exc:
            log.warning("the webhook dispatcher could not read when the next delivery is due: %s: %s",
                        type(exc).__name__, exc)
            return RETRY_AFTER_ERROR
        if due_in is None or due_in > 0:
            return wait_before_next_look(due_in, cap=IDLE_POLL)
        claimed = await attempt_due("the webhook dispatcher", queries.claim_due, self._attempt, limit=CLAIM_BATCH,
                                    log=log)
        if not claimed:
            # None: the claim failed. 0: another worker leased the due ones meanwhile and attempts them.
            return RETRY_AFTER_ERROR
        return 0.0  # the claimed ones are leased now: the next read names what else is due

    async def _attempt(self, row: Any) -> None:
        if not row.active:
            async with app.database.transaction() as session:
                await queries.give_up_disabled(session, row.webhook_id)
            return
        payload = {**row.payload, "delivery_id": str(row.id)}
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Taskstream-Event": row.event_type,
            "X-Taskstream-Delivery": str(row.id),
            "X-Taskstream-Signature": sign(row.secret, body),
        }
        status: int | None = None
        error = ""
        try:
            if not self._allow_private:
                check_host(row.url)  # IP literals and local names; names are checked as they resolve
            async with self._http.post(row.url, data=body, headers=headers, allow_redirects=False) as response:
                status = response.status
                if not 200 <= status < 300:
                    error = f"HTTP {status}: {(await response.content.read(300)).decode(errors='replace')}"
        except asyncio.CancelledError:
            raise
        except UrlError as exc:
            error = f"refused: the URL {exc}"
        except TimeoutError:
            error = f"timed out after {TIMEOUT.total:.0f} s"
        except Exception as exc:
            error = failure_text(exc)
        try:
            async with app.database.transaction() as session:
                if not error:
                    await queries.record_success(session, row.id, row.webhook_id, status)
                    return
                gave_up, disabled = await queries.record_failure(
                    session, row.id, row.webhook_id, status_code=status, error=error,
                    retry_in=backoff(row.attempts + 1),
                )
        except Exception as exc:
            # The lease runs out and the delivery is attempted again: at-least-once.
            log.warning("could not record attempt %d of webhook delivery %s (webhook %s): %s",
                        row.attempts + 1, row.id, row.webhook_id, exc)
            return
        log.info("webhook delivery %s (%s) to webhook %s failed, attempt %d: %s%s%s", row.id, row.event_type,
                 row.webhook_id, row.attempts + 1, error, "; given up" if gave_up else "",
                 "; webhook disabled" if disabled else "")
