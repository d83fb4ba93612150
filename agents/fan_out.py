"""Fan-out agent: turns `task-events` into client-ready `task-updates` (key = user_id)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from streams.app import app
from streams.batches import take_batches
from streams.events import TASK_UPDATES, client_update_for, decode_event, encode
from streams.producer import batching_producer
from streams.topics import task_events

from .failures import Consumer

log = logging.getLogger(__name__)
AGENT = "fan_out_updates"
#: Up to this many updates are sent together; an idle stream waits WITHIN seconds for company.
BATCH = 500
WITHIN = 0.005

consumer = Consumer(AGENT)


@dataclass
class Update:
    """One client update and whether the broker has confirmed it (a retry sends only the rest)."""

    user_id: str
    value: bytes
    sent: bool = False


def decode(message: Any) -> Update:
    record = decode_event(message.value)
    return Update(record.user_id, encode(client_update_for(record)))


async def publish(updates: list[Update]) -> None:
    """Send the updates and wait until the broker has them all: the events are acknowledged after
    this, so a worker that dies first leaves them to be sent again."""
    producer = await batching_producer(app)
    pending = []
    error: Exception | None = None
    for update in updates:
        if update.sent:
            continue
        try:
            pending.append((update, await producer.send(TASK_UPDATES, key=update.user_id.encode(), value=update.value)))
        except Exception as exc:
            error = error or exc
    for update, future in pending:
        try:
            await future
            update.sent = True
        except Exception as exc:
            error = error or exc
    if error is not None:
        raise error


@app.agent(task_events)
async def fan_out_updates(stream):
    async for events in take_batches(stream, BATCH, within=WITHIN):
        batch = await consumer.decode(events, decode)
        await consumer.process(batch, publish, what=f"publishing to {TASK_UPDATES}")
