"""The gateway's per-socket queue: a stalled client is closed, the others keep receiving."""

from __future__ import annotations

import asyncio

from web.gateway import CLOSE_TOO_SLOW, QUEUE_LIMIT, Gateway, Subscriber


class FakeSocket:
    def __init__(self) -> None:
        self.closed_with: int | None = None

    async def close(self, *, code: int, message: bytes) -> None:
        self.closed_with = code


async def test_a_stalled_socket_is_closed_with_the_documented_code_and_others_still_receive():
    gateway = Gateway.__new__(Gateway)  # routing only: no broker needed
    gateway.subscribers = {}
    from collections import defaultdict

    gateway.subscribers = defaultdict(set)
    slow, fast = Subscriber("u", FakeSocket()), Subscriber("u", FakeSocket())
    gateway.subscribers["u"].update({slow, fast})
    for seq in range(QUEUE_LIMIT + 5):
        gateway.dispatch("u", {"seq": seq})
        if fast.queue.full():
            while not fast.queue.empty():
                fast.queue.get_nowait()  # the fast client keeps up
    await asyncio.sleep(0)
    assert slow.stalled and slow.socket.closed_with == CLOSE_TOO_SLOW
    assert not fast.stalled and fast.socket.closed_with is None
    gateway.dispatch("someone-else", {"seq": 1})  # nobody there: nothing happens


def test_a_socket_gets_no_notification_published_before_it_opened():
    """A paused gateway resumes where it paused, so it may read updates older than a new socket; those
    without a seq (notifications) were for the sockets open then, not this one."""
    from collections import defaultdict

    gateway = Gateway.__new__(Gateway)
    gateway.subscribers = defaultdict(set)
    socket = Subscriber("u", FakeSocket())
    gateway.subscribers["u"].add(socket)
    opened = socket.opened_ms
    gateway.dispatch("u", {"type": "notification.created", "id": "old"}, published_ms=opened - 5_000)
    gateway.dispatch("u", {"type": "notification.created", "id": "new"}, published_ms=opened + 1)
    gateway.dispatch("u", {"type": "task.updated", "seq": 7}, published_ms=opened - 5_000)  # judged by seq
    received = [socket.queue.get_nowait() for _ in range(socket.queue.qsize())]
    assert [u.get("id") or u.get("seq") for u in received] == ["new", 7]


def test_a_commit_delivered_here_is_the_update_the_fan_out_agent_publishes():
    """A socket on the committing worker gets, at once, exactly what every other worker's sockets get
    through task-updates (and drops that copy by seq when it comes)."""
    import json
    import uuid
    from collections import defaultdict

    from db.outbox import PendingEvent
    from streams.events import TASK_EVENTS, build_envelope, client_update_for, decode_event, encode
    from web.gateway import update_from

    task = {"id": str(uuid.uuid4()), "title": "milk", "version": 2}
    envelope = build_envelope(event_id=str(uuid.uuid4()), event_type="updated", user_id="u", task_id=task["id"],
                              occurred_at="2026-01-02T03:04:05.678901Z", seq=0, after=task,
                              before={**task, "title": "tea", "version": 1})
    envelope["seq"] = 7  # as the database fills it in
    gateway = Gateway.__new__(Gateway)
    gateway.subscribers = defaultdict(set)
    mine, theirs = Subscriber("u", FakeSocket()), Subscriber("v", FakeSocket())
    gateway.subscribers["u"].add(mine)
    gateway.subscribers["v"].add(theirs)
    other_topic = PendingEvent(2, uuid.uuid4(), "reminder-schedule", "u", {"task_id": task["id"]})
    gateway.deliver_committed([PendingEvent(1, uuid.uuid4(), TASK_EVENTS, "u", envelope), other_topic])

    published = encode(client_update_for(decode_event(encode(envelope))))  # what fan_out_updates sends
    local = mine.queue.get_nowait()
    assert local == json.loads(published) and mine.queue.empty() and theirs.queue.empty()
    assert json.loads(local.text()) == json.loads(published)
    from_broker = update_from(published)
    assert from_broker == local and from_broker.text() == published.decode()  # passed on as it came


def test_the_second_copy_of_an_update_is_not_queued_again():
    """A change this worker delivered at commit comes again through task-updates: the socket's writer is
    not woken for it (nor for an older one, which it reads from the audit trail before the newer)."""
    from collections import defaultdict

    gateway = Gateway.__new__(Gateway)
    gateway.subscribers = defaultdict(set)
    socket = Subscriber("u", FakeSocket())
    gateway.subscribers["u"].add(socket)
    for seq in (1, 3, 1, 2, 3, 4):
        gateway.dispatch("u", {"type": "task.updated", "seq": seq})
    gateway.dispatch("u", {"type": "notification.created", "id": "n"})
    received = [socket.queue.get_nowait() for _ in range(socket.queue.qsize())]
    assert [u.get("seq") or u.get("id") for u in received] == [1, 3, 4, "n"]


def test_an_import_is_delivered_here_as_its_last_change_for_the_writer_to_fill_in():
    """Thousands of changes in one commit would overflow a socket's queue (and close it as stalled): the
    socket gets the last one, and its writer reads the rest from the audit trail before it."""
    import uuid
    from collections import defaultdict

    from db.outbox import PendingEvent
    from streams.events import TASK_EVENTS, build_envelope
    from web.gateway import DELIVER_AT_ONCE

    def event(seq: int) -> PendingEvent:
        task = {"id": str(uuid.uuid4()), "title": f"imported {seq}"}
        envelope = build_envelope(event_id=str(uuid.uuid4()), event_type="created", user_id="u", task_id=task["id"],
                                  occurred_at="2026-01-02T03:04:05.678901Z", seq=seq, before=None, after=task)
        return PendingEvent(seq, uuid.uuid4(), TASK_EVENTS, "u", envelope)

    gateway = Gateway.__new__(Gateway)
    gateway.subscribers = defaultdict(set)
    socket = Subscriber("u", FakeSocket())
    gateway.subscribers["u"].add(socket)
    gateway.deliver_committed([event(seq) for seq in range(1, QUEUE_LIMIT + 2)])
    assert not socket.stalled and [socket.queue.get_nowait()["seq"]] == [QUEUE_LIMIT + 1] and socket.queue.empty()
    gateway.deliver_committed([event(seq) for seq in range(QUEUE_LIMIT + 2, QUEUE_LIMIT + 2 + DELIVER_AT_ONCE)])
    assert socket.queue.qsize() == DELIVER_AT_ONCE  # a usual commit: every change, in order
