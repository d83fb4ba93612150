"""Reminder emails go only to an address its owner confirmed by following the link mailed to it."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from stack import Api
from test_reminders_email import confirmation_link, mail_worker, sent_to, smtp_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


async def remind_soon(api: Api, title: str) -> None:
    task = await api.create(title=title)
    status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                     json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})
    assert status == 201, body


async def notifications(api: Api, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, page, _ = await api.call("GET", "/api/notifications")
        if len(page["notifications"]) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} notifications within {timeout} s")


async def test_an_address_gets_reminders_only_once_the_link_mailed_to_it_is_followed(mail_worker, smtp_server):
    mailbox, _ = smtp_server
    address = f"new-{uuid.uuid4().hex[:8]}@example.com"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        api = Api(http, mail_worker.url, f"confirm-{uuid.uuid4()}")
        status, settings, _ = await api.call("PUT", "/api/notification-settings", json_body={"email": address})
        assert status == 200 and settings["email"] == address and settings["email_confirmed"] is False
        assert settings["confirmation_sent_at"] is not None
        link = await confirmation_link(mailbox, address)
        assert link.startswith(mail_worker.url + "/confirm-email?token="), link

        await remind_soon(api, "unconfirmed")
        await notifications(api, 1)
        await asyncio.sleep(1.5)  # a few sender ticks
        assert not sent_to(mailbox, address, "Reminder"), "a reminder went to an unconfirmed address"

        async with http.get(link) as response:  # no Authorization header: the token is the credential
            assert response.status == 200 and response.content_type == "text/html"
            assert address in await response.text()
        _, settings, _ = await api.call("GET", "/api/notification-settings")
        assert settings["email_confirmed"] is True and settings["confirmation_sent_at"] is None

        await remind_soon(api, "confirmed")
        deadline = time.monotonic() + 15
        while not (mails := sent_to(mailbox, address, "Reminder")) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert [m["Subject"] for m in mails] == ["Reminder: confirmed"]

        # The same confirmed address again stays confirmed and mails no new link.
        status, settings, _ = await api.call("PUT", "/api/notification-settings", json_body={"email": address})
        assert status == 200 and settings["email_confirmed"] is True
        await asyncio.sleep(1.0)
        assert len(sent_to(mailbox, address, "Confirm")) == 1


async def test_a_wrong_used_or_replaced_token_is_refused_with_what_to_do(mail_worker, smtp_server):
    mailbox, _ = smtp_server
    address = f"tok-{uuid.uuid4().hex[:8]}@example.com"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        api = Api(http, mail_worker.url, f"confirm-{uuid.uuid4()}")
        base = mail_worker.url + "/confirm-email"
        for params in ({"token": "x" * 43}, {"token": "short"}, {}):
            async with http.get(base, params=params) as response:
                body = await response.json()
                assert response.status == 404, (params, body)
                assert "set your address again" in body["message"]

        await api.call("PUT", "/api/notification-settings", json_body={"email": address})
        first = await confirmation_link(mailbox, address)
        # A resend right away is refused; setting the address again mails a new link and the old one dies.
        status, body, headers = await api.call("POST", "/api/notification-settings/resend-confirmation")
        assert status == 429 and int(headers["Retry-After"]) > 0, body
        await api.call("PUT", "/api/notification-settings", json_body={"email": address})
        second = await confirmation_link(mailbox, address, count=2)
        assert second != first
        async with http.get(first) as response:
            assert response.status == 404
        async with http.get(second) as response:
            assert response.status == 200
        async with http.get(second) as response:
            assert response.status == 404, "a used link"
        status, body, _ = await api.call("POST", "/api/notification-settings/resend-confirmation")
        assert status == 409, body
