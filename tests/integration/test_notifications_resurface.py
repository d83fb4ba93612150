"""When a snooze ends the notification is delivered again, once: pushed, e-mailed and sent to webhooks.

Two workers share a database and broker of this module's own, so both sweep for ended snoozes and
the session worker stays out. The snooze is cut to two seconds in the database (the API's shortest
is a minute).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from reminders_support import isolated_stack
from stack import Api, Worker
from test_reminders_email import sent_to, set_confirmed_address, smtp_server  # noqa: F401 (a fixture)
from test_reminders_webhooks import Receiver
from test_websocket import connect, receive


pytestmark = pytest.mark.integration

SNOOZE = 2.0


@pytest.fixture(scope="module")
def two_workers(embedded_pg, smtp_server, tmp_path_factory):
    _, port = smtp_server
    env = {"SMTP_URL": f"smtp://127.0.0.1:{port}?from=reminders@taskstream.test"}
    with isolated_stack(embedded_pg, tmp_path_factory.mktemp("resurface-broker")) as (url, broker):
        workers: list[Worker] = []
        try:
            for name in ("a", "b"):
                workers.append(Worker(database_url=url, broker_url=broker.url, extra_env=env,
                                      data_dir=tmp_path_factory.mktemp(f"resurface-{name}")).start())
            yield url.rsplit("/", 1)[1], workers
        finally:
            for worker in workers:
                worker.stop()


@pytest.fixture
async def receiver():
    server = await Receiver().start()
    yield server
    await server.stop()


async def until(check, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while not (result := await check()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return result


async def pushes(socket, ident: str, timeout: float) -> list[tuple[float, dict]]:
    """(arrival time, message) of every push about notification `ident` within `timeout` seconds."""
    seen = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await receive(socket, timeout=left)
        except asyncio.TimeoutError:
            break
        notification = message.get("notification", {})
        # The reminder's own first push carries no snooze; it may still reach a socket opened right after
        # the webhook of that first delivery arrived (the dispatcher does not wait for the push).
        if notification.get("id") == ident and notification.get("snoozed_until") is not None:
            seen.append((time.monotonic(), message))
    return seen


async def test_a_notification_whose_snooze_ends_is_pushed_emailed_and_sent_to_webhooks_once(
        two_workers, smtp_server, receiver, embedded_pg):
    database, (worker_a, worker_b) = two_workers
    mailbox, _ = smtp_server
    address = f"snooze-{uuid.uuid4().hex[:8]}@example.com"
    mine = lambda: sent_to(mailbox, address, "Reminder")  # noqa: E731
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        user = f"snooze-{uuid.uuid4()}"
        on_a, on_b = Api(http, worker_a.url, user), Api(http, worker_b.url, user)
        await set_confirmed_address(on_a, mailbox, address)
        status, hook, _ = await on_a.call("POST", "/api/webhooks",
                                          json_body={"url": receiver.url, "events": ["reminder.*"]})
        assert status == 201, hook
        task = await on_a.create(title="call the plumber")
        await on_a.call("POST", f"/api/tasks/{task['id']}/reminders",
                        json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})

        async def listed():
            _, body, _ = await on_a.call("GET", "/api/notifications")
            return body["notifications"]

        notes = await until(listed)
        assert len(notes) == 1, "the reminder never fired"
        ident = notes[0]["id"]
        assert await until(lambda: asyncio.sleep(0, len(mine()) == 1)), "the first email never went out"
        assert await until(lambda: asyncio.sleep(0, len(receiver.of_type("reminder.fired")) == 1))

        sockets = [await connect(http, worker_a.url, on_a.token), await connect(http, worker_b.url, on_b.token)]
        try:
            status, body, _ = await on_b.call("POST", f"/api/notifications/{ident}/snooze", json_body={"minutes": 1})
            assert status == 200, body
            embedded_pg.psql(database, f"UPDATE notifications SET snoozed_until = clock_timestamp() "
                                       f"+ interval '{SNOOZE} seconds' WHERE id = '{ident}'")
            snoozed_at = time.monotonic()

            seen = await asyncio.gather(*(pushes(socket, ident, timeout=SNOOZE + 8) for socket in sockets))
        finally:
            for socket in sockets:
                await socket.close()

        for on_worker in seen:
            assert len(on_worker) == 1, f"pushed {len(on_worker)} times to one socket: {on_worker}"
            arrived, message = on_worker[0]
            assert arrived - snoozed_at >= SNOOZE - 0.2, "pushed before the snooze ended"
            assert message["type"] == "notification.created"
            assert message["notification"]["read"] is False and message["notification"]["title"] == notes[0]["title"]

        assert len(mine()) == 2, "e-mailed again exactly once"
        assert mine()[1]["Subject"] == mine()[0]["Subject"]
        assert mine()[1]["Message-ID"] != mine()[0]["Message-ID"], "a new message, not a retry of the first"
        fired = receiver.of_type("reminder.fired")
        assert len(fired) == 2, "sent to the webhook again exactly once"
        assert fired[1]["json"]["data"]["notification"]["id"] == ident
        assert fired[1]["json"]["event_id"] != fired[0]["json"]["event_id"]

        back = {note["id"]: note for note in await listed()}
        assert back[ident]["read"] is False


async def test_a_notification_read_while_snoozed_does_not_come_back(two_workers, smtp_server, receiver, embedded_pg):
    database, (worker_a, _) = two_workers
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        api = Api(http, worker_a.url, f"snooze-read-{uuid.uuid4()}")
        status, hook, _ = await api.call("POST", "/api/webhooks", json_body={"url": receiver.url, "events": ["*"]})
        assert status == 201, hook
        task = await api.create(title="already handled")
        await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                       json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})

        async def listed():
            _, body, _ = await api.call("GET", "/api/notifications")
            return body["notifications"]

        notes = await until(listed)
        assert len(notes) == 1, "the reminder never fired"
        ident = notes[0]["id"]
        assert await until(lambda: asyncio.sleep(0, len(receiver.of_type("reminder.fired")) == 1))
        await api.call("POST", f"/api/notifications/{ident}/snooze", json_body={"minutes": 1})
        assert (await api.call("POST", f"/api/notifications/{ident}/read"))[0] == 200
        socket = await connect(http, worker_a.url, api.token)
        try:
            embedded_pg.psql(database, f"UPDATE notifications SET snoozed_until = clock_timestamp() "
                                       f"+ interval '1 second' WHERE id = '{ident}'")
            assert await pushes(socket, ident, timeout=4) == []
        finally:
            await socket.close()
        assert len(receiver.of_type("reminder.fired")) == 1
