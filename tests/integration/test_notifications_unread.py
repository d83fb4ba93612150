"""The inbox's unread filter: a fresh notification is unread; read or snoozed ones are not (session worker)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration


async def listed(api, **params) -> list[str]:
    status, body, _ = await api.call("GET", "/api/notifications", params=params or None)
    assert status == 200, body
    return [note["id"] for note in body["notifications"]]


async def fired_notification(api) -> str:
    """The id of a notification from a reminder that fired (never read, never snoozed)."""
    task = await api.create(title="water the plants", due_date=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    when = datetime.now(UTC) + timedelta(seconds=1)
    status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                     json_body={"remind_at": when.isoformat()})
    assert status == 201, body
    deadline = time.monotonic() + 15
    while not (found := await listed(api)):
        assert time.monotonic() < deadline, "the reminder never fired"
        await asyncio.sleep(0.1)
    return found[0]


async def test_a_never_snoozed_notification_is_listed_as_unread_until_it_is_read(api):
    ident = await fired_notification(api)

    assert await listed(api, unread="true") == [ident]
    assert await listed(api, unread="false") == []

    status, body, _ = await api.call("POST", f"/api/notifications/{ident}/read")
    assert status == 200, body
    assert await listed(api, unread="true") == []
    assert await listed(api, unread="false") == [ident]


async def test_a_snoozed_notification_leaves_the_unread_list_until_the_snooze_ends(api):
    ident = await fired_notification(api)

    status, body, _ = await api.call("POST", f"/api/notifications/{ident}/snooze", json_body={"minutes": 10})
    assert status == 200, body
    assert await listed(api, unread="true") == []
    assert await listed(api, unread="false") == [ident]
    assert await listed(api) == [ident]
