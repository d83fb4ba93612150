"""The gateway fetches nothing while no socket is open, and loses nothing when the first one opens."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from web import gateway as gateway_module
from web.gateway import Gateway, Subscriber

PARTITIONS = [TopicPartition("task-updates", p) for p in range(2)]


class FakeConsumer:
    """Records what the gateway asks of its consumer; end_offsets answers when `answer` is set."""

    def __init__(self) -> None:
        self.paused: set[TopicPartition] = set()
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.answer = asyncio.Event()
        self.answer.set()

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(partitions)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        await self.answer.wait()
        return {tp: 100 + tp.partition for tp in partitions}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


class FakeSocket:
    async def close(self, **kwargs) -> None:
        pass


def idle_gateway() -> tuple[Gateway, FakeConsumer]:
    gateway = Gateway("task-updates")
    consumer = FakeConsumer()
    gateway._consumer = consumer
    gateway._assigned = list(PARTITIONS)
    return gateway, consumer


async def test_with_no_socket_the_partitions_are_paused_until_one_opens():
    gateway, consumer = idle_gateway()
    idle = asyncio.ensure_future(gateway._idle())
    await asyncio.sleep(0)
    assert consumer.paused == set(PARTITIONS)
    gateway.add(Subscriber("alice", FakeSocket()))
    await asyncio.wait_for(idle, 5)
    assert consumer.paused == set()
    assert consumer.seeks == []  # resumed where it paused: nothing published meanwhile is skipped


async def test_a_long_idle_gateway_moves_to_the_end_of_the_topic(monkeypatch):
    monkeypatch.setattr(gateway_module, "IDLE_SKIP_SECONDS", 0.01)
    gateway, consumer = idle_gateway()
    idle = asyncio.ensure_future(gateway._idle())
    deadline = asyncio.get_running_loop().time() + 5
    while not consumer.seeks and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert set(consumer.seeks) >= {(PARTITIONS[0], 100), (PARTITIONS[1], 101)}
    gateway.add(Subscriber("alice", FakeSocket()))
    await asyncio.wait_for(idle, 5)
    assert consumer.paused == set()


async def test_a_socket_opening_while_the_end_is_read_keeps_the_position():
    gateway, consumer = idle_gateway()
    consumer.answer.clear()
    skipping = asyncio.ensure_future(gateway._skip_ahead())
    await asyncio.sleep(0)
    gateway.add(Subscriber("alice", FakeSocket()))  # its replay reads the audit trail after this
    consumer.answer.set()
    await asyncio.wait_for(skipping, 5)
    assert consumer.seeks == []
