"""Live updates reach a socket in sequence order with no gap, even when workers publish them out of order."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import asyncpg
import pytest
from faults_support import wait_outbox_drained
from sqlalchemy.engine import make_url
from stack import Api, Worker
from test_websocket import connect, receive

from db.events import record_event

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def second_worker(postgres, broker, tmp_path_factory):
    worker = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("worker-b"))
    worker.start()
    yield worker
    worker.stop()


async def commit_without_sending(database_url: str, user_id: str, task: dict, title: str) -> int:
    """A change whose writer committed it and then failed to send it: its audit row and outbox row exist,
    and the outbox relay's sweep sends it once the publish lease has passed, after later changes went out."""
    connection = await asyncpg.connect(make_url(database_url).set(drivername="postgresql")
                                       .render_as_string(hide_password=False))
    try:
        pending = await record_event(
            connection, user_id=user_id, task_id=uuid.UUID(task["id"]), event_type="updated",
            before=task, after={**task, "title": title}, now=datetime.now(timezone.utc),
        )
        return pending.payload["seq"]
    finally:
        await connection.close()


async def test_an_update_sent_late_by_the_sweep_still_reaches_a_socket_in_order(
        worker, second_worker, postgres, http):
    user = f"order-{uuid.uuid4()}"
    on_a, on_b = Api(http, worker.url, user), Api(http, second_worker.url, user)
    task = await on_a.create(title="ordered")
    socket = await connect(http, second_worker.url, on_b.token)
    start = socket.ready_seq
    try:
        held = await commit_without_sending(postgres, user, task, "held back")
        assert held == start + 1
        await on_a.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": "sent at once"})

        received = []
        for expected in (start + 1, start + 2):
            received.append(await receive(socket, timeout=20))
            assert received[-1]["seq"] == expected, received
        assert [u["task"]["title"] for u in received] == ["held back", "sent at once"]

        # The sweep sends the held-back change now: the socket has it already and gets no copy.
        await wait_outbox_drained(postgres, timeout=60)
        with pytest.raises(asyncio.TimeoutError):
            extra = await receive(socket, timeout=2)
            pytest.fail(f"unexpected update after the sweep: {extra}")
    finally:
        await socket.close()

    # A client resuming from the highest sequence number it saw has missed nothing.
    resumed = await http.ws_connect(second_worker.url.replace("http://", "ws://") + "/ws",
                                    params={"token": on_b.token, "since": str(received[-1]["seq"])})
    try:
        ready = await receive(resumed)
        assert ready == {"type": "ready", "seq": start + 2}
    finally:
        await resumed.close()
