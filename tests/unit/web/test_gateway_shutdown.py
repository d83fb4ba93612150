"""On shutdown every socket hears 1001 (going away) at once; one that fails to close delays nobody."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from web.gateway import CLOSE_GOING_AWAY, Gateway, Subscriber


class SlowSocket:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay, self.fail = delay, fail
        self.closed_with: int | None = None

    async def close(self, *, code: int, message: bytes) -> None:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionResetError("peer gone")
        self.closed_with = code


async def test_every_socket_is_closed_with_1001_concurrently_even_when_one_fails():
    gateway = Gateway.__new__(Gateway)  # routing only: no broker needed
    gateway.subscribers = defaultdict(set)
    sockets = [SlowSocket(delay=0.2) for _ in range(5)] + [SlowSocket(fail=True)]
    for n, socket in enumerate(sockets):
        gateway.subscribers[f"user-{n % 2}"].add(Subscriber(f"user-{n % 2}", socket))

    started = asyncio.get_running_loop().time()
    await gateway.close_sockets()
    took = asyncio.get_running_loop().time() - started

    assert [s.closed_with for s in sockets[:5]] == [CLOSE_GOING_AWAY] * 5
    assert took < 0.6, f"closed one after another ({took:.2f} s), not at once"
