"""take_batches (streams/batches.py) on an agent fed in memory: batches as Faust's take_events makes them,
without waking while the stream is idle."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest

from streams.batches import take_batches


async def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.fixture
def batching_agent(request):
    """An agent taking batches of at most 3 that waits `within` (the test's param, default 50 ms) for
    company; returns (agent, batches, wakeups)."""
    within = getattr(request, "param", 0.05)
    app = faust.App("take-batches-test", store="memory://")
    batches: list[list[Any]] = []
    wakeups: list[bool] = []

    async def consume(stream):
        waiting = stream.wait_for_stopped

        async def counted(*args: Any, **kwargs: Any) -> bool:
            wakeups.append(True)
            return await waiting(*args, **kwargs)

        stream.wait_for_stopped = counted
        async for batch in take_batches(stream, 3, within=within):
            batches.append([event.value for event in batch])

    return app.agent(app.channel())(consume), batches, wakeups


async def test_an_event_on_an_idle_stream_comes_out_alone_after_the_wait(batching_agent):
    agent, batches, _ = batching_agent
    async with agent.test_context() as running:
        await running.put("a")
        await wait_until(lambda: batches)
        assert batches == [["a"]]


@pytest.mark.parametrize("batching_agent", [3.0], indirect=True)
async def test_a_full_batch_comes_out_and_the_rest_follows_in_the_next(batching_agent):
    agent, batches, _ = batching_agent
    async with agent.test_context() as running:
        for value in "abcd":
            await running.put(value)
        await wait_until(lambda: batches, timeout=2.0)  # not the 3 s the last event waits for company
        assert batches == [["a", "b", "c"]]
        await wait_until(lambda: len(batches) == 2, timeout=10)
        assert batches == [["a", "b", "c"], ["d"]]


async def test_an_idle_stream_does_not_wake_its_consumer(batching_agent):
    agent, batches, wakeups = batching_agent
    async with agent.test_context() as running:
        await running.put("a")
        await wait_until(lambda: batches)
        before = len(wakeups)
        await asyncio.sleep(0.3)  # Faust's take_events would have woken six times (every 50 ms)
        assert len(wakeups) == before
        await running.put("b")
        await wait_until(lambda: len(batches) == 2)
        assert batches == [["a"], ["b"]]
