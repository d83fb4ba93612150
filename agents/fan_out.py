"""Fan-out agent: turns `task-events` into client-ready `task-updates` (key = user_id)."""

from __future__ import annotations

import json
import logging
from typing import Any

from streams import metrics
from streams.app import app
from streams.events import TaskEventRecord, UndecodableEvent, decode_event
from streams.events import client_update as update_message
from streams.producer import batching_producer
from streams.topics import task_events, task_events_dlq, task_updates

log = logging.getLogger(__name__)
AGENT = "fan_out_updates"


def client_update(event: TaskEventRecord) -> dict[str, Any]:
    """What a WebSocket client receives: the change and the user's sequence number to resume from."""
    return update_message(
        event_type=event.event_type, seq=event.seq, event_id=event.event_id, task_id=event.task_id,
        before=event.before, after=event.after, changes=event.changes,
        occurred_at=event.occurred_at.isoformat().replace("+00:00", "Z"),
    )


async def dead_letter(message: Any, error: Exception) -> None:
    """Park an undecodable message with where it came from and why, instead of crashing the worker."""
    log.error(
        "undecodable message on %s partition %s offset %s: %s; sent to %s",
        message.topic, message.partition, message.offset, error, task_events_dlq.get_topic_name(),
        extra={"topic": message.topic, "partition": message.partition, "offset": message.offset},
    )
    await task_events_dlq.send(
        key=message.key,
        value=message.value,
        headers={
            "error": str(error).encode(),
            "source": f"{message.topic}/{message.partition}/{message.offset}".encode(),
        },
    )


@app.agent(task_events)
async def fan_out_updates(stream):
    producer = await batching_producer(app)
    async for event in stream.events():
        message = event.message
        try:
            record = decode_event(event.value)
        except UndecodableEvent as exc:
            metrics.EVENTS_FAILED.labels(AGENT).inc()
            await dead_letter(message, exc)
            continue
        await producer.send(task_updates.get_topic_name(), key=record.user_id.encode(),
                            value=json.dumps(client_update(record)).encode())
        metrics.EVENTS_PROCESSED.labels(AGENT).inc()
