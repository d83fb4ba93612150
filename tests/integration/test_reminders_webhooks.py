"""Webhooks: signed deliveries of task.* and reminder.* events, retries with backoff, auto-disable, the log."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from streams.rules.webhooks import DISABLE_AFTER, verify

pytestmark = pytest.mark.integration

SECRET = "a-webhook-secret-of-some-length"


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records what it is sent and answers from a script."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.script: list[int] = []  # statuses to answer with, then 200
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls.append({"headers": dict(request.headers), "body": body, "json": json.loads(body)})
        status = self.script.pop(0) if self.script else 200
        return web.Response(status=status, text="ok" if status < 300 else "receiver unhappy")

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def of_type(self, event: str) -> list[dict]:
        return [c for c in self.calls if c["headers"].get("X-Taskstream-Event") == event]


@pytest.fixture
async def receiver():
    server = await Receiver().start()
    yield server
    await server.stop()


async def until(check, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not (result := await check()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return result


async def subscribe(api, url: str, events: list[str], **extra) -> dict:
    status, hook, _ = await api.call("POST", "/api/webhooks", json_body={"url": url, "events": events, **extra})
    assert status == 201, hook
    return hook


async def test_task_and_reminder_events_arrive_signed_with_hmac_sha256(api, receiver):
    hook = await subscribe(api, receiver.url, ["task.*", "reminder.*"], secret=SECRET)
    task = await api.create(title="hooked")
    await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                   json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})

    async def both():
        return receiver.of_type("task.created") and receiver.of_type("reminder.fired")

    assert await until(both), [c["headers"].get("X-Taskstream-Event") for c in receiver.calls]
    for call in receiver.calls:
        headers = call["headers"]
        assert verify(SECRET, call["body"], headers["X-Taskstream-Signature"]), "signature over the raw body"
        assert headers["X-Taskstream-Signature"].startswith("sha256=")
        assert call["json"]["delivery_id"] == headers["X-Taskstream-Delivery"]
        assert call["json"]["webhook_id"] == hook["id"]
        assert call["json"]["event"] == headers["X-Taskstream-Event"]
    created = receiver.of_type("task.created")[0]["json"]
    assert created["data"]["task"]["id"] == task["id"] and created["event_id"]
    fired = receiver.of_type("reminder.fired")[0]["json"]
    assert fired["data"]["notification"]["title"] == "Reminder: hooked"

    async def logged():
        _, log, _ = await api.call("GET", f"/api/webhooks/{hook['id']}/deliveries")
        return log if len(log["deliveries"]) == 2 and all(d["status"] == "succeeded" for d in log["deliveries"]) \
            else None

    log = await until(logged)
    assert log, "both deliveries are in the log as succeeded"
    assert {d["event_type"] for d in log["deliveries"]} == {"task.created", "reminder.fired"}
    assert all(d["attempts"] == 1 and d["last_status_code"] == 200 for d in log["deliveries"])


async def test_a_failing_receiver_gets_the_same_signed_delivery_again_with_backoff(api, receiver):
    receiver.script = [500, 503]
    hook = await subscribe(api, receiver.url, ["task.created"], secret=SECRET)
    await api.create(title="retried")

    assert await until(lambda: asyncio.sleep(0, len(receiver.calls) >= 3)), len(receiver.calls)
    first, second, third = receiver.calls[:3]
    assert first["body"] == second["body"] == third["body"]
    assert len({c["headers"]["X-Taskstream-Delivery"] for c in receiver.calls}) == 1
    assert all(verify(SECRET, c["body"], c["headers"]["X-Taskstream-Signature"]) for c in receiver.calls)

    async def succeeded():
        _, log, _ = await api.call("GET", f"/api/webhooks/{hook['id']}/deliveries")
        delivery = log["deliveries"][0]
        return delivery if delivery["status"] == "succeeded" else None

    delivery = await until(succeeded)
    assert delivery["attempts"] == 3 and delivery["last_status_code"] == 200
    _, hook_now, _ = await api.call("GET", f"/api/webhooks/{hook['id']}")
    assert hook_now["consecutive_failures"] == 0 and hook_now["active"] is True


async def test_a_webhook_that_keeps_failing_is_disabled_and_its_queue_closed(api, receiver):
    receiver.script = [500] * 1000
    hook = await subscribe(api, receiver.url, ["task.*"])
    for n in range(DISABLE_AFTER):
        await api.create(title=f"doomed {n}")

    async def disabled():
        _, now, _ = await api.call("GET", f"/api/webhooks/{hook['id']}")
        return now if not now["active"] else None

    state = await until(disabled, timeout=20)
    assert state, "still active"
    assert state["disabled_at"] and "in a row" in state["disabled_reason"]
    _, log, _ = await api.call("GET", f"/api/webhooks/{hook['id']}/deliveries")
    assert {d["status"] for d in log["deliveries"]} == {"failed"}
    calls = len(receiver.calls)
    await api.create(title="after disabling")
    await asyncio.sleep(1.5)
    assert len(receiver.calls) == calls, "a disabled webhook is sent nothing"

    # The receiver is fixed: turning the webhook on again delivers what happens from now on.
    receiver.script = []
    status, enabled, _ = await api.call("POST", f"/api/webhooks/{hook['id']}/enable")
    assert status == 200, enabled
    assert enabled["active"] is True and enabled["consecutive_failures"] == 0 and enabled["disabled_at"] is None
    task = await api.create(title="after enabling")

    async def delivered():
        return [c for c in receiver.of_type("task.created") if c["json"]["data"]["task"]["id"] == task["id"]]

    assert await until(delivered), "an enabled webhook gets new events"
    assert not [c for c in receiver.calls[calls:] if "after disabling" in json.dumps(c["json"])], (
        "what happened while it was disabled is not sent")


async def test_a_webhook_only_gets_the_events_it_subscribed_to(api, receiver):
    await subscribe(api, receiver.url, ["reminder.*"])
    task = await api.create(title="quiet")
    await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                   json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})
    assert await until(lambda: asyncio.sleep(0, bool(receiver.calls)))
    await asyncio.sleep(0.5)
    assert [c["headers"]["X-Taskstream-Event"] for c in receiver.calls] == ["reminder.fired"]


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://127.0.0.1/x", "events": ["task.*"]}, "url"),
    ({"url": "not a url", "events": ["task.*"]}, "url"),
    ({"url": "http://user:pw@127.0.0.1/x", "events": ["task.*"]}, "url"),
    ({"url": "http://127.0.0.1/x", "events": []}, "events"),
    ({"url": "http://127.0.0.1/x", "events": ["task.exploded"]}, "events"),
    ({"url": "http://127.0.0.1/x", "events": ["task.*"], "secret": "short"}, "secret"),
    ({"events": ["task.*"]}, "url"),
])
async def test_invalid_webhooks_are_400_naming_the_field(api, body, field):
    status, answer, _ = await api.call("POST", "/api/webhooks", json_body=body)
    assert status == 400 and answer["details"]["field"] == field, answer


async def test_webhooks_are_listed_without_their_secret_deleted_and_private(api, other_api):
    hook = await subscribe(api, "https://127.0.0.1:9/hook", ["*"])
    assert len(hook["secret"]) >= 16, "a generated secret is shown once, at creation"
    _, listed, _ = await api.call("GET", "/api/webhooks")
    assert [h["id"] for h in listed["webhooks"]] == [hook["id"]] and "secret" not in listed["webhooks"][0]
    for method, path in [("GET", f"/api/webhooks/{hook['id']}"), ("DELETE", f"/api/webhooks/{hook['id']}"),
                         ("GET", f"/api/webhooks/{hook['id']}/deliveries"), ("GET", f"/api/webhooks/{uuid.uuid4()}")]:
        status, _, _ = await other_api.call(method, path)
        assert status == 404, (method, path)
    status, _, _ = await api.call("DELETE", f"/api/webhooks/{hook['id']}")
    assert status == 204
    _, listed, _ = await api.call("GET", "/api/webhooks")
    assert listed["webhooks"] == []
