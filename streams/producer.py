"""A batching producer for the topics nobody reads end offsets of: `task-events`, `reminders`, `task-updates`.

Faust's own producer sends one record per request on the embedded broker (producer_max_batch_size=1,
which table recovery needs: the broker answers ListOffsets wrongly after multi-record batches; see
streams/config.py). That caps it at about 3,500 records/s on this kind of machine, shared by every
agent and the table changelogs. Records whose topics are only ever consumed from committed offsets
(agents) or read as a live tail (the WebSocket gateway, which reads from the fetch high-water mark on)
do not need that: this producer batches them (about 48,000 records/s measured against the same broker)
and leaves Faust's producer to the changelogs. The outbox relay publishes `task-events` through it:
under load the one-record requests let the relay fall tens of seconds behind the writes.

Same partitioner as Faust's producer (aiokafka's default, murmur2 of the key), so a user's records
land on the same partition number in every topic, as the co-partitioned agents and tables expect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from mode import Service

from .kafka import client_options
from .settings import get_settings

log = logging.getLogger(__name__)

#: How long a record may wait for others to share its request.
LINGER_MS = 5
#: A send the broker has not confirmed by then fails (as Faust's producer does after 30 s).
SEND_TIMEOUT_MS = 30_000


class BatchingProducer(Service):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._producer: AIOKafkaProducer | None = None

    async def on_start(self) -> None:
        self._producer = AIOKafkaProducer(**client_options(get_settings()), linger_ms=LINGER_MS, acks="all",
                                          request_timeout_ms=SEND_TIMEOUT_MS)
        await self._producer.start()

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()  # sends what is still buffered first
            self._producer = None

    async def send(self, topic: str, *, key: bytes, value: bytes,
                   headers: list[tuple[str, bytes]] | None = None) -> asyncio.Future:
        """Queue one record; returns a future that resolves when the broker has it (or fails after
        SEND_TIMEOUT_MS, and the outbox or the reminder lease sends it again)."""
        if self._producer is None:
            raise RuntimeError("the batching producer is not running")
        return await self._producer.send(topic, key=key, value=value, headers=headers)


_instance: BatchingProducer | None = None
_starting = asyncio.Lock()


async def batching_producer(app: Any) -> BatchingProducer:
    """This worker's batching producer, started on first use and stopped with the app."""
    global _instance
    if _instance is None:
        async with _starting:
            if _instance is None:
                producer = BatchingProducer(loop=app.loop, beacon=app.beacon)
                await app.add_runtime_dependency(producer)
                _instance = producer
    return _instance
