"""Helpers for the fault tests: compare a topic with the audit trail, wait for the outbox to drain."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import asyncpg


def plain_url(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


async def topic_event_ids(broker_url: str, topic: str, *, want: set[str], timeout: float) -> Counter[str]:
    """Copies of each event_id on `topic`: read from the beginning until every id in `want` arrived
    and the whole topic was read (or `timeout` passed)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.kafka import bootstrap_servers

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker_url), enable_auto_commit=False)
    await consumer.start()
    seen: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] = set()
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await asyncio.sleep(0.2)
                await consumer.topics()  # refreshes metadata
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300, max_records=5000)
            for messages in batches.values():
                for message in messages:
                    event_id = json.loads(message.value).get("event_id")
                    if event_id is not None:  # task-updates also carries notifications
                        seen[event_id] += 1
            # The fetch high-water mark, not ListOffsets (see EMBEDDED-BROKER.md).
            positions = [await consumer.position(tp) for tp in assigned]
            caught_up = all((consumer.highwater(tp) or 0) <= pos for tp, pos in zip(assigned, positions))
            if not batches and caught_up and want <= seen.keys():
                break
        return seen
    finally:
        await consumer.stop()


async def wait_outbox_drained(database_url: str, *, timeout: float) -> float:
    """Seconds until no outbox row is left unpublished; fails after `timeout`."""
    started = time.monotonic()
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        while True:
            left = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            if left == 0:
                return time.monotonic() - started
            assert time.monotonic() - started < timeout, f"{left} outbox rows still unpublished after {timeout} s"
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def audit_event_ids(database_url: str) -> set[str]:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        return {str(row["id"]) for row in await conn.fetch("SELECT id FROM task_events")}
    finally:
        await conn.close()


async def occurrence_counts(database_url: str) -> list[asyncpg.Record]:
    """Per recurring template: its tasks, how many are completed, how many are open."""
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        return await conn.fetch(
            "SELECT r.id, count(t.id) AS tasks, count(t.id) FILTER (WHERE t.completed) AS completed, "
            "count(t.id) FILTER (WHERE NOT t.completed) AS open, "
            "(SELECT count(*) FROM recurrence_occurrences o WHERE o.template_id = r.id) AS slots "
            "FROM recurring_tasks r LEFT JOIN tasks t ON t.recurring_task_id = r.id GROUP BY r.id")
    finally:
        await conn.close()


async def wait_group_caught_up(broker_url: str, topic: str, *, group: str = "taskstream", timeout: float) -> float:
    """Seconds until `group` has committed the end of every partition of `topic`: its agents have
    handled everything on it, replays included."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from streams.kafka import bootstrap_servers

    servers = bootstrap_servers(broker_url)
    started = time.monotonic()
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        while True:
            # Every producer of the app sends one record per batch, so ListOffsets is right here.
            ends = await consumer.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            behind = {tp.partition: ends[tp] - committed[tp].offset for tp in partitions
                      if ends[tp] and committed[tp].offset < ends[tp]}
            if not behind:
                return time.monotonic() - started
            assert time.monotonic() - started < timeout, f"{group} still behind on {topic}: {behind}"
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
        await admin.close()
