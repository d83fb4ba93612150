"""A socket's writer sends task updates in sequence order: a gap is filled from the audit trail first."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from types import SimpleNamespace

from web.gateway import Subscriber
from web.views import websocket
from web.views.websocket import CLOSE_INTERNAL_ERROR, Socket


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.closed_with: tuple[int, bytes] | None = None

    async def send_str(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, *, code: int, message: bytes) -> None:
        self.closed_with = (code, message)


def audit_row(seq: int) -> SimpleNamespace:
    task = {"id": "t", "title": f"change {seq}"}
    return SimpleNamespace(seq=seq, id=uuid.uuid4(), task_id="t", event_type="updated",
                           event_data={"before": task, "after": task, "changes": {}},
                           occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc))


def live(seq: int) -> dict:
    return {"type": "task.updated", "seq": seq, "task": {"title": f"change {seq}"}}


def view(monkeypatch, audit: list[int], *, failing: bool = False) -> tuple[Socket, list[tuple[int, int | None]]]:
    reads: list[tuple[int, int | None]] = []

    async def events_since(session, user_id, after_seq, limit, *, before_seq=None):
        if failing:
            raise OSError("database unreachable")
        reads.append((after_seq, before_seq))
        return [audit_row(s) for s in audit if s > after_seq and (before_seq is None or s < before_seq)][:limit]

    @asynccontextmanager
    async def autocommit():
        yield None

    monkeypatch.setattr(websocket.queries, "events_since", events_since)
    socket_view = object.__new__(Socket)
    socket_view.autocommit = autocommit  # type: ignore[method-assign]
    return socket_view, reads


async def forward(socket_view: Socket, subscriber: Subscriber, updates: list[dict]) -> None:
    for update in updates:
        subscriber.queue.put_nowait(update)
    writer = asyncio.ensure_future(socket_view._forward(subscriber))
    for _ in range(50):
        await asyncio.sleep(0)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)


async def test_an_update_ahead_of_others_waits_for_them_from_the_audit_trail(monkeypatch):
    socket_view, reads = view(monkeypatch, audit=[4, 5, 6, 7])
    subscriber = Subscriber("u", FakeSocket())
    subscriber.last_seq = 3
    notification = {"type": "notification.created", "notification": {"id": "n"}}
    await forward(socket_view, subscriber, [live(4), live(7), notification, live(5), live(6), live(8)])
    sent = subscriber.socket.sent
    assert [u.get("seq") for u in sent] == [4, 5, 6, 7, None, 8]
    assert sent[4] == notification  # no seq: passed through as it came
    assert reads == [(4, 7)]  # one read, for the gap only; 5 and 6 came late and were dropped
    assert subscriber.last_seq == 8


async def test_updates_in_order_read_nothing(monkeypatch):
    socket_view, reads = view(monkeypatch, audit=[1, 2])
    subscriber = Subscriber("u", FakeSocket())
    await forward(socket_view, subscriber, [live(1), live(2), live(2)])
    assert [u["seq"] for u in subscriber.socket.sent] == [1, 2] and reads == []


async def test_a_gap_that_cannot_be_read_closes_the_socket_to_resume_with_since(monkeypatch):
    socket_view, _ = view(monkeypatch, audit=[], failing=True)
    subscriber = Subscriber("u", FakeSocket())
    subscriber.last_seq = 3
    await forward(socket_view, subscriber, [live(5)])
    assert subscriber.socket.sent == []
    assert subscriber.socket.closed_with == (CLOSE_INTERNAL_ERROR, b"reconnect with since=3")

