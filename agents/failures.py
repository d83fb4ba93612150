"""The consumers' failure policy (written down in agents/__init__.py): retry what is transient, park the rest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka.errors import KafkaError, KafkaTimeoutError

from db.engine import retry_kind
from streams import metrics
from streams.app import app
from streams.events import TASK_EVENTS, TASK_EVENTS_DLQ, UndecodableEvent, dead_letter_headers
from streams.producer import batching_producer

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: The pause after a transient failure: doubled after each one, up to MAX_BACKOFF.
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
#: A deadlock or serialization failure runs again at once this many times; then it counts as an error.
CONFLICT_RETRIES = 5
#: task-events has four consumers: the one that reads every message parks an undecodable one, so it
#: is parked once; the others skip it. On every other topic the consumer parks it itself.
PARKED_BY = {TASK_EVENTS: "fan_out_updates"}


def failure_kind(exc: BaseException) -> str | None:
    """'conflict' (retry now), 'unavailable' (the database or the broker is away: retry after a pause)
    or None (anything else: a bug, or a message that cannot be handled)."""
    if isinstance(exc, KafkaError):
        return "unavailable" if exc.retriable or isinstance(exc, KafkaTimeoutError) else None
    return retry_kind(exc)


async def retry(what: str, action: Callable[[], Awaitable[T]], *, attempts: int | None = None) -> T:
    """Run `action` until it succeeds: a transient failure is retried with backoff (for ever, or
    `attempts` times in all); any other error is raised at once."""
    attempt = conflicts = 0
    delay = FIRST_BACKOFF
    while True:
        attempt += 1
        try:
            return await action()
        except Exception as exc:
            kind = failure_kind(exc)
            if kind is None or (attempts is not None and attempt >= attempts):
                raise
            if kind == "conflict":
                if conflicts >= CONFLICT_RETRIES:
                    raise
                conflicts += 1
                log.info("lock conflict %s (attempt %d); retrying", what, conflicts)
                continue
            log.warning("%s failed: %s: %s; the database or the broker is unavailable, retrying in %.1f s",
                        what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)


def source(message: Any) -> str:
    return f"{message.topic}/{message.partition}/{message.offset}"


def _sources(batch: Sequence[tuple[Any, Any]]) -> str:
    if len(batch) == 1:
        return source(batch[0][0])
    return f"{source(batch[0][0])} .. {source(batch[-1][0])}, {len(batch)} messages"


def _where(message: Any) -> dict[str, Any]:
    """Structured fields, so JSON logs can be filtered by topic and partition."""
    return {"topic": message.topic, "partition": message.partition, "offset": message.offset}


@dataclass(frozen=True)
class Consumer:
    """The policy as one agent applies it; `name` signs its logs, metrics and dead letters."""

    name: str

    async def decode(self, events: Sequence[Any], decode: Callable[[Any], T | None]) -> list[tuple[Any, T]]:
        """(message, item) for each event `decode(message)` makes an item of; None means the message
        is none of this agent's business. Undecodable messages and decoding bugs are parked."""
        batch: list[tuple[Any, T]] = []
        for event in events:
            message = event.message
            try:
                item = decode(message)
            except UndecodableEvent as exc:
                await self.undecodable(message, exc)
                continue
            except Exception as exc:
                await self.failed(message, exc)
                continue
            if item is not None:
                batch.append((message, item))
        return batch

    async def process(self, batch: Sequence[tuple[Any, T]], handle: Callable[[list[T]], Awaitable[R]], *,
                      what: str) -> list[R]:
        """Run `handle` over the batch's items, retrying transient failures; the batch is not done
        (and its offsets not committed) until it succeeds. On any other error each message is tried
        alone, and one that still fails is a bug: logged with its offset and dead-lettered.
        Returns what `handle` returned, once per successful call."""
        if not batch:
            return []
        try:
            result = await retry(f"{self.name}: {what} ({_sources(batch)})", lambda: handle([i for _, i in batch]))
        except Exception as exc:
            if len(batch) == 1:
                await self.failed(batch[0][0], exc)
                return []
            log.warning("%s: %s failed for %s (%s: %s); trying the messages one at a time", self.name, what,
                        _sources(batch), type(exc).__name__, exc)
            results: list[R] = []
            for one in batch:
                results += await self.process([one], handle, what=what)
            return results
        metrics.EVENTS_PROCESSED.labels(self.name).inc(len(batch))
        return [result]

    async def undecodable(self, message: Any, error: Exception) -> None:
        parker = PARKED_BY.get(message.topic, self.name)
        if parker != self.name:
            log.warning("%s skips the undecodable message at %s (%s); %s parks it", self.name, source(message),
                        error, parker, extra=_where(message))
            return
        log.error("undecodable message on %s partition %s offset %s: %s; sent to %s", message.topic,
                  message.partition, message.offset, error, TASK_EVENTS_DLQ, extra=_where(message))
        await self.dead_letter(message, error)

    async def failed(self, message: Any, error: Exception) -> None:
        """A bug (or a message that breaks a rule): the worker carries on without it."""
        log.error("%s could not handle the message on %s partition %s offset %s: %s: %s; sent to %s", self.name,
                  message.topic, message.partition, message.offset, type(error).__name__, error, TASK_EVENTS_DLQ,
                  exc_info=error, extra=_where(message))
        await self.dead_letter(message, error)

    async def dead_letter(self, message: Any, error: Exception) -> None:
        """Park the message as received, with why and where (the wire contract's headers), and wait
        for the broker to have it: its offset is committed after this."""
        metrics.EVENTS_FAILED.labels(self.name).inc()
        headers = dead_letter_headers(source=source(message), error=error, consumer=self.name)

        async def send() -> None:
            producer = await batching_producer(app)
            await (await producer.send(TASK_EVENTS_DLQ, key=message.key, value=message.value, headers=headers))

        try:
            await retry(f"dead-lettering {source(message)}", send)
        except Exception as exc:
            log.error("could not dead-letter the message at %s either: %s: %s", source(message),
                      type(exc).__name__, exc, extra=_where(message))
