"""The broker unreachable for 30 s under 200 writes a second: every write still succeeds, and once the
broker is back every event reaches task-events, the outbox drains, and no effect happens twice.

Freezing the broker (SIGSTOP) is an outage without a reset: it keeps its topics and groups, and
requests sent to it meanwhile are answered (late) after SIGCONT, so the relay, which timed out and
sent again, puts some events on the topic twice. Consumers dedupe by event id; the checks below
count the copies and assert on the effects.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections import Counter

import aiohttp
import pytest
from faults_support import (
    audit_event_ids,
    occurrence_counts,
    topic_event_ids,
    wait_group_caught_up,
    wait_outbox_drained,
)
from recurring_support import make_template, occurrences
from stack import Api, Worker, own_database, start_broker

pytestmark = pytest.mark.integration

RATE = 200.0  # writes per second while the broker is frozen
DURATION = 30.0
USERS = 20
MAX_IN_FLIGHT = 64


@pytest.fixture
def own_stack(embedded_pg, tmp_path):
    """Database, broker and worker of this test alone: the audit trail and the topic are compared whole."""
    with own_database(embedded_pg, "outage_load") as url:
        broker = start_broker(tmp_path)
        worker = None
        try:
            worker = Worker(database_url=url, broker_url=broker.url, data_dir=tmp_path / "worker").start()
            yield url, broker, worker
        finally:
            if worker is not None:
                worker.stop()
            broker.stop()


class Load:
    """Creates and updates spread over USERS users at a fixed rate; records every answer."""

    def __init__(self, apis: list[Api], seed: int = 7) -> None:
        self.apis = apis
        self.tasks: dict[str, list[str]] = {api.user_id: [] for api in apis}
        self.rng = random.Random(seed)
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.latencies: list[float] = []

    async def write(self, api: Api, method: str, path: str, body: dict) -> dict | None:
        started = time.monotonic()
        try:
            status, answer, _ = await api.call(method, path, json_body=body)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.failures.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            return None
        self.latencies.append(time.monotonic() - started)
        self.statuses[status] += 1
        if not 200 <= status < 300:
            self.failures.append(f"{method} {path}: {status} {answer}")
            return None
        return answer

    async def one(self, n: int) -> None:
        api = self.apis[n % len(self.apis)]
        mine = self.tasks[api.user_id]
        if not mine or self.rng.random() < 0.5:
            task = await self.write(api, "POST", "/api/tasks", {"title": f"load {n}", "tags": ["load"]})
            if task is not None:
                mine.append(task["id"])
        else:
            task_id = self.rng.choice(mine)
            await self.write(api, "PATCH", f"/api/tasks/{task_id}", {"title": f"update {n}", "priority": "high"})

    async def run(self, rate: float, duration: float) -> tuple[int, float]:
        """Launch writes at `rate` for `duration` (at most MAX_IN_FLIGHT at once); returns (writes, seconds)."""
        started = time.monotonic()
        launched = 0
        in_flight: set[asyncio.Future] = set()
        while (elapsed := time.monotonic() - started) < duration:
            while launched < int(elapsed * rate) and len(in_flight) < MAX_IN_FLIGHT:
                future = asyncio.ensure_future(self.one(launched))
                in_flight.add(future)
                future.add_done_callback(in_flight.discard)
                launched += 1
            await asyncio.sleep(0.005)
        await asyncio.gather(*in_flight)
        return launched, time.monotonic() - started


async def test_200_writes_a_second_against_a_frozen_broker_all_succeed_and_every_event_arrives_once_in_effect(
        own_stack):
    url, broker, worker = own_stack
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        apis = [Api(http, worker.url, f"load-{i}-{uuid.uuid4()}") for i in range(USERS)]
        load = Load(apis)
        heads = []
        for api in apis:
            template = await make_template(api)
            heads.append((api, (await occurrences(api, template["id"]))["past"][0]["task_id"]))

        broker.freeze()
        frozen_at = time.monotonic()
        try:
            # Each user's recurring task is finished during the outage: its next occurrence can only be
            # created once the event gets through, and a replayed copy must not create another.
            for api, task_id in heads:
                assert await load.write(api, "POST", f"/api/tasks/{task_id}/complete", {}) is not None
            writes, seconds = await load.run(RATE, DURATION)
        finally:
            broker.thaw()
        thawed_at = time.monotonic()

    assert not load.failures, f"{len(load.failures)} writes failed, e.g. {load.failures[:5]}"
    drained = await wait_outbox_drained(url, timeout=180)
    audit = await audit_event_ids(url)
    on_topic = await topic_event_ids(broker.url, "task-events", want=audit, timeout=120)
    delivered = time.monotonic() - thawed_at
    missing = audit - on_topic.keys()
    assert not missing, f"{len(missing)} of {len(audit)} events never reached task-events"
    caught_up = await wait_group_caught_up(broker.url, "task-events", timeout=180)

    counts = await occurrence_counts(url)
    assert len(counts) == USERS
    for row in counts:
        assert (row["tasks"], row["completed"], row["open"], row["slots"]) == (2, 1, 1, 2), (
            f"recurring task {row['id']}: one completion, so exactly one next occurrence: {dict(row)}")
    audit = await audit_event_ids(url)  # now with the occurrences' own events
    updates = await topic_event_ids(broker.url, "task-updates", want=audit, timeout=60)
    assert not audit - updates.keys(), "every change reached the live-update topic"

    copies = sum(n - 1 for n in on_topic.values() if n > 1)
    latencies = sorted(load.latencies)
    print(f"\n{writes + len(heads)} writes in {seconds:.1f} s ({writes / seconds:.0f}/s) with the broker frozen "
          f"for {thawed_at - frozen_at:.1f} s: statuses {dict(load.statuses)}, latency p50 "
          f"{statistics.median(latencies) * 1000:.0f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")
    print(f"after the thaw: outbox drained in {drained:.1f} s, all {len(audit)} events on task-events "
          f"{delivered:.1f} s after the thaw ({copies} duplicate copies on the topic), agents caught up "
          f"{caught_up:.1f} s later")
