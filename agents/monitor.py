"""Periodic gauges: the outbox backlog and consumer lag per assigned partition."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from db import outbox as queries
from streams import metrics
from streams.app import app

log = logging.getLogger(__name__)
INTERVAL = 5.0


@app.timer(INTERVAL)
async def measure_outbox() -> None:
    try:
        async with app.database.autocommit() as session:
            count, oldest = await queries.backlog(session)
    except Exception as exc:
        log.warning("could not measure the outbox backlog: %s: %s", type(exc).__name__, exc)
        return
    metrics.OUTBOX_BACKLOG.set(count)
    age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest else 0.0
    metrics.OUTBOX_OLDEST_AGE.set(max(age, 0.0))


@app.timer(INTERVAL)
async def measure_consumer_lag() -> None:
    """High-water mark minus the committed offset (the fetch high-water: ListOffsets is unreliable here)."""
    consumer = app.consumer
    committed = getattr(consumer, "_committed_offset", {})
    # Partitions lost in a rebalance must not keep reporting their last value.
    metrics.CONSUMER_LAG.clear()
    for tp in consumer.assignment():
        try:
            highwater = consumer.highwater(tp)
        except Exception:
            continue
        if highwater is None:
            continue
        position = committed.get(tp)  # Kafka semantics: the next offset to read
        lag = highwater - (position if position is not None else 0)
        metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(lag, 0))
