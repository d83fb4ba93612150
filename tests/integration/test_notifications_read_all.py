"""`read-all` marks what the user can see: a snoozed notification is hidden, so it stays unread (session worker)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration


async def inbox(api) -> dict[str, dict]:
    status, body, _ = await api.call("GET", "/api/notifications")
    assert status == 200, body
    return {note["id"]: note for note in body["notifications"]}


async def fire(api, title: str) -> str:
    """The id of the notification a reminder one second ahead produces."""
    before = set(await inbox(api))
    task = await api.create(title=title)
    status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                     json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})
    assert status == 201, body
    deadline = time.monotonic() + 15
    while not (new := set(await inbox(api)) - before):
        assert time.monotonic() < deadline, "the reminder never fired"
        await asyncio.sleep(0.1)
    return new.pop()


async def test_read_all_leaves_a_snoozed_notification_unread_and_marks_the_visible_one(api):
    snoozed = await fire(api, "snoozed one")
    status, body, _ = await api.call("POST", f"/api/notifications/{snoozed}/snooze", json_body={"minutes": 10})
    assert status == 200, body
    visible = await fire(api, "visible one")

    status, body, _ = await api.call("POST", "/api/notifications/read-all")
    assert status == 200, body
    assert body == {"marked_read": 1}

    notes = await inbox(api)
    assert notes[visible]["read"] is True
    assert notes[snoozed]["read"] is False and notes[snoozed]["read_at"] is None
    assert notes[snoozed]["snoozed_until"] is not None
