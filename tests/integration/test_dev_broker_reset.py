"""`taskstream dev` survives a broker reset: it notices, recreates the topics and restarts its worker.

The embedded broker keeps everything in memory, so a restarted broker has no topics and no consumer
groups, and a worker that was connected to the old one never consumes properly again. These tests
reset the broker under a running `taskstream dev` (the embedded broker killed; a separately run
broker restarted) and check that, within a bounded time and without anyone touching `taskstream
dev`, a new change reaches `task-events` and the WebSocket again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from stack import Api, DevProcess, own_database, read_topic, running_dev, start_broker

from streams.cli.embedded import EmbeddedBroker, port_open

pytestmark = pytest.mark.integration

#: Generous: noticing takes up to ~2.5 s, stopping the old worker and starting the new one a few more.
RECOVERY_TIMEOUT = 90.0
#: A reminder set before the reset is due this long afterwards (usually after the new worker is up).
REMINDER_AFTER = 25.0


@pytest.fixture
def dev_database(embedded_pg):
    """A database of this test's own: the dev worker sweeps its outbox and publishes to its broker."""
    with own_database(embedded_pg, "dev_reset") as url:
        yield url


async def connect(http: aiohttp.ClientSession, api: Api) -> aiohttp.ClientWebSocketResponse:
    socket = await http.ws_connect(api.base.replace("http://", "ws://") + "/ws", params={"token": api.token})
    ready = json.loads((await socket.receive(timeout=10)).data)
    assert ready["type"] == "ready", ready
    return socket


async def assert_a_change_flows(dev: DevProcess, api: Api, title: str) -> None:
    """A task created now reaches a fresh WebSocket of its user and the broker's task-events topic."""
    socket = await connect(api.session, api)
    try:
        task = await api.create(title=title)
        deadline = time.monotonic() + 20
        while True:
            message = await socket.receive(timeout=max(deadline - time.monotonic(), 0.1))
            assert message.type == aiohttp.WSMsgType.TEXT, f"the socket closed instead: {message}"
            update = json.loads(message.data)
            if update.get("type") == "task.created" and update["task"]["id"] == task["id"]:
                break
    finally:
        await socket.close()
    events = await read_topic(dev.broker_url, "task-events", key=api.user_id, expect=1, timeout=20)
    assert [(e["value"]["event_type"], e["value"]["task_id"]) for e in events] == [("created", task["id"])], (
        "the topic holds exactly this change (a reset broker starts empty)")


async def assert_reminded_once(api: Api, task_id: str, reminder: dict, *, recovered_at: datetime) -> None:
    """The schedule was rebuilt from PostgreSQL: the reminder fires, once, and on time if it was still ahead."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while True:
        _, listed, _ = await api.call("GET", f"/api/tasks/{task_id}/reminders")
        fired = listed["reminders"][0]
        if fired["sent"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert fired["sent"], "the reminder set before the reset never fired"
    await asyncio.sleep(1)  # time for a duplicate to show up
    _, inbox, _ = await api.call("GET", "/api/notifications")
    assert [n["reminder_id"] for n in inbox["notifications"]] == [reminder["id"]]
    remind_at = datetime.fromisoformat(fired["remind_at"].replace("Z", "+00:00"))
    if recovered_at < remind_at:  # the new worker was up in time: it fires on the second
        late = datetime.fromisoformat(fired["sent_at"].replace("Z", "+00:00")) - remind_at
        assert timedelta(0) <= late < timedelta(seconds=1.5), f"fired {late} after its time"


async def test_a_killed_embedded_broker_is_started_again_with_a_fresh_worker_and_changes_flow(tmp_path, dev_database):
    with running_dev(tmp_path, env={"DATABASE_URL": dev_database}) as dev:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            api = Api(http, dev.web_url, f"dev-{uuid.uuid4()}")
            await assert_a_change_flows(dev, api, "before the broker died")
            # Due after the reset: only PostgreSQL still knows it once the broker's memory is gone.
            task = await api.create(title="remind me after the reset")
            status, reminder, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders", json_body={
                "remind_at": (datetime.now(UTC) + timedelta(seconds=REMINDER_AFTER)).isoformat()})
            assert status == 201, reminder
            broker_pid, worker_pid = dev.child("tansu"), dev.child(" worker ")
            assert broker_pid and worker_pid, dev.output()[-2000:]
            broker_url = dev.broker_url
            socket = await connect(http, api)

            os.kill(broker_pid, signal.SIGKILL)
            killed = time.monotonic()
            closed = await socket.receive(timeout=RECOVERY_TIMEOUT)
            assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1001), (
                "the old worker says 'going away', so clients reconnect")
            await dev.wait_for_new_worker(worker_pid, timeout=RECOVERY_TIMEOUT)
            recovered = time.monotonic() - killed

            assert dev.broker_url == broker_url, "the broker is back on its old address"
            await assert_a_change_flows(dev, api, "after the broker came back")
            await assert_reminded_once(api, task["id"], reminder, recovered_at=datetime.now(UTC))
    print(f"killed embedded broker: a new worker was ready {recovered:.1f} s later")
    assert "the embedded broker exited" in dev.output()


async def test_a_broker_restarted_under_a_running_dev_is_noticed_by_its_missing_topics(tmp_path, dev_database):
    broker = start_broker(tmp_path)
    try:
        env = {"DATABASE_URL": dev_database, "KAFKA_BROKER_URL": broker.url, "KAFKA_PROFILE": "embedded"}
        with running_dev(tmp_path, env=env) as dev:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                api = Api(http, dev.web_url, f"dev-{uuid.uuid4()}")
                await assert_a_change_flows(dev, api, "before the restart")
                worker_pid = dev.child(" worker ")

                # Someone restarts the broker `taskstream dev` did not start: same address, empty memory.
                port = broker.port
                broker.stop()
                while port_open(port):
                    await asyncio.sleep(0.1)
                broker = EmbeddedBroker(port=port, log_path=tmp_path / "broker-2.log").start()
                restarted = time.monotonic()
                await dev.wait_for_new_worker(worker_pid, timeout=RECOVERY_TIMEOUT)
                recovered = time.monotonic() - restarted

                await assert_a_change_flows(dev, api, "after the restart")
        print(f"restarted external broker: a new worker was ready {recovered:.1f} s later")
        assert "the broker was reset" in dev.output()
    finally:
        broker.stop()
