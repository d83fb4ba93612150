"""Embedded-broker workaround: a short fetch long-poll while messages flow, a long one while idle, cut short by our sends.

Faust creates its aiokafka consumer with `fetch_max_wait_ms=1500` hard-coded (no setting). A real
Kafka answers a waiting fetch as soon as data arrives, so the value only matters when topics are
idle. The embedded Tansu broker does not: it holds every fetch that found no data for the whole
wait, even when messages arrive meanwhile. Measured on these machines (aiokafka consumer against
tansu, 15 sends at random moments): delivery took 1-1290 ms (median ~600 ms) at 1500 ms, and
2-104 ms (median ~26 ms) at 100 ms. Every agent pays it: the recurrence agent's next occurrence,
the fan-out's live updates.

But ten empty fetches a second were the largest share of an idle worker's CPU. So, once nothing has
arrived for IDLE_AFTER seconds, the worker's consumer waits IDLE_FETCH_MAX_WAIT_MS per fetch, and
whenever this process's producers get a record acknowledged (a request's outbox event, a fired
reminder, a fan-out: under `taskstream dev` every record there is) the waiting fetch is abandoned
and a short one goes out at once, on a connection of its own: the broker answers one connection's
requests in order, so a fetch behind the held one would wait for it. The abandoned fetch's empty
answer is read and dropped. Records another process sends to an idle worker wait up to
IDLE_FETCH_MAX_WAIT_MS (several workers on one embedded broker, in tests).

`install()` wraps Faust's consumer factory; the wrapper applies only when the settings say
KAFKA_PROFILE=embedded (read when the consumer is created, not at import), so a production Kafka
keeps Faust's behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from typing import Any

#: The long-poll wait on the embedded broker while messages flow: the worst-case delay of a record.
EMBEDDED_FETCH_MAX_WAIT_MS = 100
#: The wait once nothing has arrived for IDLE_AFTER seconds; a send of this process cuts it short.
IDLE_FETCH_MAX_WAIT_MS = 1000
IDLE_AFTER = 2.0
#: Connection groups for fetches besides aiokafka's default one (0); coordination uses 1.
_SPARE_LANES = (1001, 1002, 1003)

log = logging.getLogger(__name__)

_installed = False
_fetches: weakref.WeakSet[IdleFetch] = weakref.WeakSet()
_fetches_lock = threading.Lock()


def fetch_wait_ms(last_data: float, now: float) -> int:
    """The long-poll wait of the next fetch, `now - last_data` seconds after records last arrived
    (or the consumer last woke)."""
    return IDLE_FETCH_MAX_WAIT_MS if now - last_data >= IDLE_AFTER else EMBEDDED_FETCH_MAX_WAIT_MS


class IdleFetch:
    """The wait policy and the wake-up of one consumer's fetcher, which runs on `loop` (a thread of its own)."""

    def __init__(self, fetcher: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.last_data = time.monotonic()
        self._long: asyncio.Task | None = None  # the fetch in flight, when it was sent with the long wait
        self._busy_lanes: set[int] = set()
        from aiokafka.client import ConnectionGroup
        from aiokafka.protocol.fetch import FetchRequest

        self._default_lane = ConnectionGroup.DEFAULT
        self._fetch_request = FetchRequest
        client = fetcher._client
        get_actions, proc_fetch = fetcher._get_actions_per_node, fetcher._proc_fetch_request

        def get_actions_per_node(assignment: Any) -> Any:
            # The request is built in there with the fetcher's current wait.
            fetcher._fetch_max_wait_ms = fetch_wait_ms(self.last_data, time.monotonic())
            return get_actions(assignment)

        async def proc_fetch_request(assignment: Any, node_id: Any, request: Any) -> bool:
            long = getattr(request, "_max_wait_ms", EMBEDDED_FETCH_MAX_WAIT_MS) > EMBEDDED_FETCH_MAX_WAIT_MS
            if long and fetch_wait_ms(self.last_data, time.monotonic()) < request._max_wait_ms:
                return False  # woken since it was built: the fetcher builds a short one at once instead
            self._long = asyncio.current_task() if long else None
            try:
                found = await proc_fetch(assignment, node_id, request)
            finally:
                self._long = None
            if found:
                self.last_data = time.monotonic()
            return found

        fetcher._get_actions_per_node = get_actions_per_node
        fetcher._proc_fetch_request = proc_fetch_request
        fetcher._client = _LaneClient(client, self)

    def lane(self) -> int:
        """A connection with no abandoned fetch still held by the broker."""
        for lane in (self._default_lane, *_SPARE_LANES):
            if lane not in self._busy_lanes:
                return lane
        return self._default_lane  # all held (a burst of wake-ups): queue behind the default one

    async def send_fetch(self, client: Any, node_id: Any, request: Any) -> Any:
        lane = self.lane()
        self._busy_lanes.add(lane)
        sent = asyncio.ensure_future(client.send(node_id, request, group=lane))
        sent.add_done_callback(lambda _: self._busy_lanes.discard(lane))
        # Shielded: an abandoned fetch still gets its answer read, which frees its connection.
        return await asyncio.shield(sent)

    def wake(self) -> None:
        """From any thread: records were sent; fetch with the short wait now."""
        self.last_data = time.monotonic()  # one float store: safe from another thread
        if self._long is None:
            return  # the next fetch is built short; no call into the consumer's thread per record sent
        try:
            self.loop.call_soon_threadsafe(self._cut_short)
        except RuntimeError:
            pass  # the consumer's loop is closed: the worker is stopping

    def _cut_short(self) -> None:
        if self._long is not None and not self._long.done():
            self._long.cancel()  # aiokafka's fetcher takes it as a fetch without records and sends the next


class _LaneClient:
    """The consumer's aiokafka client, as its fetcher sees it: fetches go out on a free connection."""

    def __init__(self, client: Any, idle: IdleFetch) -> None:
        self._client = client
        self._idle = idle

    async def send(self, node_id: Any, request: Any, **kwargs: Any) -> Any:
        if kwargs or not isinstance(request, self._idle._fetch_request):
            return await self._client.send(node_id, request, **kwargs)
        return await self._idle.send_fetch(self._client, node_id, request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def records_sent() -> None:
    """A producer of this process got records acknowledged: idle consumers fetch now, not at the end of their wait."""
    with _fetches_lock:
        fetches = list(_fetches)
    for fetch in fetches:
        fetch.wake()


def _aiokafka_version() -> str:
    import aiokafka

    return aiokafka.__version__


def _watch_consumer(consumer: Any) -> None:
    start = consumer.start

    async def start_and_watch() -> None:
        await start()
        try:
            fetch = IdleFetch(consumer._fetcher, asyncio.get_running_loop())
        except Exception as exc:  # another aiokafka: keep the short wait rather than stop the worker
            log.warning("the consumer keeps fetching every %d ms while idle (could not adapt aiokafka %s: %s: %s)",
                        EMBEDDED_FETCH_MAX_WAIT_MS, _aiokafka_version(), type(exc).__name__, exc)
            return
        with _fetches_lock:
            _fetches.add(fetch)
        consumer._taskstream_idle_fetch = fetch  # lives as long as the consumer

    consumer.start = start_and_watch


def install() -> None:
    """Idempotent; call before the worker starts its consumer (importing an agent module is early enough)."""
    global _installed
    if _installed:
        return
    from aiokafka import AIOKafkaProducer
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    original = AIOKafkaConsumerThread._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        from .settings import get_settings

        if get_settings().embedded_broker:
            # aiokafka hands this to its Fetcher when the consumer starts, which has not happened yet.
            consumer._fetch_max_wait_ms = EMBEDDED_FETCH_MAX_WAIT_MS
            _watch_consumer(consumer)
        return consumer

    send = AIOKafkaProducer.send

    async def send_and_wake(self: Any, *args: Any, **kwargs: Any) -> Any:
        acknowledged = await send(self, *args, **kwargs)
        if _fetches:
            acknowledged.add_done_callback(lambda _: records_sent())
        return acknowledged

    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer
    AIOKafkaProducer.send = send_and_wake
    _installed = True
