"""WebSocket gateway: every worker reads all of `task-updates` and pushes each update to that user's sockets,
and pushes its own commits to the sockets it holds straight away."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from typing import Any, Iterable

from aiohttp import web
from mode import Service

from db.outbox import PendingEvent
from streams import metrics
from streams.embedded_fetch import EMBEDDED_FETCH_MAX_WAIT_MS
from streams.events import TASK_EVENTS, client_update, decode_update
from streams.kafka import client_options
from streams.settings import get_settings

log = logging.getLogger(__name__)

#: Updates a socket may have queued before it counts as stalled and is closed.
QUEUE_LIMIT = 1000
#: Close codes (documented in the OpenAPI description of /ws).
CLOSE_TOO_SLOW = 4008
CLOSE_GOING_AWAY = 1001
#: A commit of more changes than this for one user (an import) is delivered here as its last change only:
#: each socket's writer reads the others from the audit trail, page by page, instead of finding them all
#: in its queue at once (past QUEUE_LIMIT, which would close it as stalled).
DELIVER_AT_ONCE = 50
#: With no socket open here the gateway fetches nothing; every this many seconds it moves its position
#: to the end of the topic, so the first socket to come does not wait for a backlog to be skipped.
IDLE_SKIP_SECONDS = 30.0


class Update(dict):
    """A client update, and its JSON text made once for all the sockets it goes to (the text as it came
    from the broker, when it came from there)."""

    __slots__ = ("_text",)

    def __init__(self, data: dict[str, Any], text: str | None = None) -> None:
        super().__init__(data)
        self._text = text

    def text(self) -> str:
        if self._text is None:
            self._text = json.dumps(self)
        return self._text


def update_from(value: bytes) -> Update:
    """A task-updates message as the sockets get it; ValueError if it is not a JSON object."""
    data = decode_update(value)
    try:
        text = value.decode("ascii")  # what json.dumps writes: passed on as it is
    except UnicodeDecodeError:
        text = None
    return Update(data, text)


class Subscriber:
    """One open socket: a bounded queue drained by its own writer task, so a slow client slows nobody else."""

    def __init__(self, user_id: str, socket: web.WebSocketResponse) -> None:
        self.user_id = user_id
        self.socket = socket
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self.last_seq = 0
        #: The highest seq queued here: one at or below it is queued already, or comes from the audit
        #: trail when the writer fills the gap before a later one (the second copy of a change this
        #: worker committed and delivered itself, when it comes through task-updates).
        self.offered_seq = 0
        self.stalled = False
        #: Broker timestamps are epoch milliseconds: an update without a seq (a notification) published
        #: before this moment was for the sockets open then (the gateway may read it late, after a pause).
        self.opened_ms = time.time() * 1000

    def offer(self, update: dict[str, Any]) -> None:
        if self.stalled:
            return
        seq = update.get("seq")
        if isinstance(seq, int):
            if seq <= self.offered_seq:
                return
            self.offered_seq = seq
        try:
            self.queue.put_nowait(update)
        except asyncio.QueueFull:
            self.stalled = True
            log.warning("closing a stalled WebSocket of user %s (%d updates queued)", self.user_id, QUEUE_LIMIT)
            asyncio.ensure_future(self.socket.close(
                code=CLOSE_TOO_SLOW, message=f"too slow: reconnect with since={self.last_seq}".encode()))


class Gateway(Service):
    """Consumes every partition of its topic (the app's task-updates) without a consumer group, since
    each worker needs everything, and routes by user to the sockets this worker holds."""

    def __init__(self, topic: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._consumer = None
        self._ready = asyncio.Event()
        self._assigned: list[Any] = []
        self._subscribed = asyncio.Event()

    def add(self, subscriber: Subscriber) -> None:
        self.subscribers[subscriber.user_id].add(subscriber)
        metrics.WEBSOCKET_CONNECTIONS.inc()
        self._subscribed.set()

    def remove(self, subscriber: Subscriber) -> None:
        sockets = self.subscribers.get(subscriber.user_id)
        if sockets and subscriber in sockets:
            sockets.discard(subscriber)
            metrics.WEBSOCKET_CONNECTIONS.dec()
            if not sockets:
                del self.subscribers[subscriber.user_id]

    def dispatch(self, user_id: str, update: dict[str, Any], *, published_ms: float | None = None) -> None:
        """Offer the update to the user's sockets here. Task updates carry a seq that each socket judges
        itself (replay and gap-fill); an update without one reaches only the sockets already open when
        it was published."""
        sequenced = isinstance(update.get("seq"), int)
        for subscriber in tuple(self.subscribers.get(user_id, ())):
            if sequenced or published_ms is None or published_ms >= subscriber.opened_ms:
                subscriber.offer(update)

    def deliver_committed(self, events: Iterable[PendingEvent]) -> None:
        """Push this worker's own commits to the sockets it holds now, without waiting for the relay, the
        broker, the fan-out agent and this gateway's fetch, each of which queues behind the worker's HTTP
        work. The same update comes again through task-updates (for every other worker) and each socket
        drops it by seq; a socket that gets a later seq first reads the gap from the audit trail."""
        if not self.subscribers:
            return
        mine: dict[str, list[PendingEvent]] = defaultdict(list)
        for event in events:
            if event.topic == TASK_EVENTS and event.key in self.subscribers:
                mine[event.key].append(event)
        for user_events in mine.values():
            if len(user_events) > DELIVER_AT_ONCE:
                user_events = [max(user_events, key=lambda event: event.payload["seq"])]
            for event in user_events:
                self._deliver(event)

    def _deliver(self, event: PendingEvent) -> None:
        envelope = event.payload
        self.dispatch(event.key, Update(client_update(
            event_type=envelope["event_type"], seq=envelope["seq"], event_id=envelope["event_id"],
            task_id=envelope["task_id"], before=envelope["before"], after=envelope["after"],
            changes=envelope["changes"], occurred_at=envelope["occurred_at"],
        )))

    async def on_start(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        settings = get_settings()
        # The embedded broker holds an idle fetch for the whole long-poll even when messages arrive
        # (see streams/embedded_fetch.py): keep the wait short there, or every push waits for it.
        wait = {"fetch_max_wait_ms": EMBEDDED_FETCH_MAX_WAIT_MS} if settings.embedded_broker else {}
        consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False, **wait)
        await consumer.start()
        topic = self.topic
        partitions = consumer.partitions_for_topic(topic) if topic in await consumer.topics() else None
        if not partitions:
            await consumer.stop()
            raise RuntimeError(f"topic {topic} does not exist; create the topics (taskstream dev does)")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        # Sockets resume from the audit trail, so the gateway only needs what arrives from now on.
        await consumer.seek_to_end(*assigned)
        for tp in assigned:
            await consumer.position(tp)
        self._consumer = consumer
        self._assigned = assigned
        self._ready.set()

    async def close_sockets(self) -> None:
        """Close every socket with 1001 (going away): clients reconnect, to another worker, and resume
        with since=<seq>. All at once, so a client slow to answer the close delays nobody else."""
        subscribers = [subscriber for sockets in self.subscribers.values() for subscriber in sockets]
        if not subscribers:
            return
        log.info("closing %d WebSockets with %d: this worker is shutting down", len(subscribers), CLOSE_GOING_AWAY)
        results = await asyncio.gather(
            *(s.socket.close(code=CLOSE_GOING_AWAY, message=b"server shutting down") for s in subscribers),
            return_exceptions=True,
        )
        for subscriber, result in zip(subscribers, results):
            if isinstance(result, Exception):
                log.warning("closing a WebSocket of user %s failed: %s", subscriber.user_id, result)

    async def on_stop(self) -> None:
        await self.close_sockets()  # normally done already, when the web server began to stop
        if self._consumer is not None:
            await self._consumer.stop()

    @Service.task
    async def _consume(self) -> None:
        await self._ready.wait()
        while not self.should_stop:
            if not self.subscribers:
                await self._idle()
                continue
            try:
                batches = await self._consumer.getmany(timeout_ms=500)
            except Exception as exc:
                log.warning("reading %s failed: %s", self.topic, exc)
                await self.sleep(1.0)
                continue
            for messages in batches.values():
                for message in messages:
                    if not self.subscribers or message.key is None:
                        continue
                    user_id = message.key.decode()
                    if user_id not in self.subscribers:
                        continue
                    try:
                        update = update_from(message.value)
                    except ValueError as exc:
                        log.error("undecodable update on %s partition %s offset %s: %s",
                                  message.topic, message.partition, message.offset, exc,
                                  extra={"topic": message.topic, "partition": message.partition,
                                         "offset": message.offset})
                        continue
                    self.dispatch(user_id, update, published_ms=message.timestamp)

    async def _idle(self) -> None:
        """While no socket is open here, fetch nothing (an idle worker polled the broker ten times a
        second for updates nobody would receive); resume at once when one opens."""
        consumer = self._consumer
        consumer.pause(*self._assigned)
        try:
            while not self.subscribers and not self.should_stop:
                self._subscribed.clear()
                # (mode reports a timeout as "stopped" too: ask should_stop)
                await self.wait_for_stopped(self._subscribed, timeout=IDLE_SKIP_SECONDS)
                if not self.subscribers and not self.should_stop:
                    await self._skip_ahead()
        finally:
            consumer.resume(*self._assigned)

    async def _skip_ahead(self) -> None:
        """Move to the topic's end, unless a socket opened meanwhile: a socket replays what was committed
        before it opened from the audit trail, and every update after the offsets read here is
        still fetched (the broker may report an end a little early: at worst an update comes twice,
        and sockets drop what they already have by seq)."""
        try:
            ends = await self._consumer.end_offsets(self._assigned)
        except Exception as exc:
            log.warning("reading the end of task-updates failed: %s", exc)
            return
        if self.subscribers:
            return  # opened while the offsets were read: it needs what came since our position
        for tp, offset in ends.items():
            self._consumer.seek(tp, offset)
