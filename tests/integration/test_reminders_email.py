"""With SMTP_URL set, a reminder also goes out by email (plain text + HTML), once, to the user's confirmed address."""

from __future__ import annotations

import asyncio
import email
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from email import policy

import aiohttp
import pytest
from reminders_support import isolated_stack
from stack import Api, Worker

from streams.cli.embedded import free_port

pytestmark = pytest.mark.integration


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def smtp_server():
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def mail_worker(embedded_pg, smtp_server, tmp_path_factory):
    _, port = smtp_server
    with isolated_stack(embedded_pg, tmp_path_factory.mktemp("email-broker")) as (url, broker):
        worker = Worker(database_url=url, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("email-worker"),
                        extra_env={"SMTP_URL": f"smtp://127.0.0.1:{port}?from=reminders@taskstream.test"}).start()
        try:
            yield worker
        finally:
            worker.stop()


#: The link a confirmation email carries.
LINK = re.compile(r"https?://\S+/confirm-email\?token=[A-Za-z0-9_-]+")


def sent_to(mailbox: Mailbox, address: str, subject_start: str) -> list[email.message.EmailMessage]:
    return [m for _, to, m in mailbox.messages if to == [address] and m["Subject"].startswith(subject_start)]


async def confirmation_link(mailbox: Mailbox, address: str, *, count: int = 1, timeout: float = 15) -> str:
    """The link in the `count`-th confirmation email to `address`, once it has arrived."""
    deadline = time.monotonic() + timeout
    while len(mails := sent_to(mailbox, address, "Confirm")) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert len(mails) >= count, f"no confirmation email #{count} to {address}"
    return LINK.search(mails[count - 1].get_body(("plain",)).get_content()).group(0)


async def set_confirmed_address(api: Api, mailbox: Mailbox, address: str) -> None:
    """Set the address and follow the link mailed to it, as its owner would."""
    status, settings, _ = await api.call("PUT", "/api/notification-settings", json_body={"email": address})
    assert status == 200 and settings["email"] == address, settings
    async with api.session.get(await confirmation_link(mailbox, address)) as response:
        assert response.status == 200, await response.text()


async def test_a_reminder_is_emailed_once_in_text_and_html_to_the_users_address(mail_worker, smtp_server):
    mailbox, _ = smtp_server
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        api = Api(http, mail_worker.url, f"mail-{uuid.uuid4()}")
        await set_confirmed_address(api, mailbox, "ada@example.com")
        before = len(mailbox.messages)
        task = await api.create(title="Renew <passport>")
        await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                       json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})

        deadline = time.monotonic() + 15
        while len(mailbox.messages) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert len(mailbox.messages) == before + 1
        sender, recipients, message = mailbox.messages[before]
        assert sender == "reminders@taskstream.test" and recipients == ["ada@example.com"]
        assert message["Subject"] == "Reminder: Renew <passport>"
        text = message.get_body(("plain",)).get_content()
        page = message.get_body(("html",)).get_content()
        assert "Renew <passport>" in text
        assert "Renew &lt;passport&gt;" in page and "<passport>" not in page, "user text is escaped in HTML"

        await asyncio.sleep(1.0)  # a couple more sender ticks: still one email
        assert len(mailbox.messages) == before + 1
        _, notes, _ = await api.call("GET", "/api/notifications")
        assert len(notes["notifications"]) == 1


async def test_without_an_address_no_email_is_sent_and_invalid_addresses_are_400(mail_worker, smtp_server):
    mailbox, _ = smtp_server
    before = len(mailbox.messages)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        api = Api(http, mail_worker.url, f"nomail-{uuid.uuid4()}")
        for bad in ("not-an-address", 42, "a@b@c"):
            status, body, _ = await api.call("PUT", "/api/notification-settings", json_body={"email": bad})
            assert status == 400 and body["details"]["field"] == "email"
        _, settings, _ = await api.call("GET", "/api/notification-settings")
        assert settings == {"email": None, "email_confirmed": False, "confirmation_sent_at": None, "updated_at": None}
        task = await api.create(title="silent")
        await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                       json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})
        deadline = time.monotonic() + 10
        notes: list = []
        while not notes and time.monotonic() < deadline:
            _, body, _ = await api.call("GET", "/api/notifications")
            notes = body["notifications"]
            await asyncio.sleep(0.1)
        assert len(notes) == 1, "the in-app notification still arrives"
        await asyncio.sleep(1.0)
        assert len(mailbox.messages) == before


async def test_a_task_title_with_line_breaks_is_emailed_with_a_one_line_subject(mail_worker, smtp_server):
    mailbox, _ = smtp_server
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        api = Api(http, mail_worker.url, f"mail-{uuid.uuid4()}")
        await set_confirmed_address(api, mailbox, "lin@example.com")
        task = await api.create(title="Pay rent\r\nand the\u2028power bill")
        await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                       json_body={"remind_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})

        deadline = time.monotonic() + 15
        while not (mine := sent_to(mailbox, "lin@example.com", "Reminder")) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert len(mine) == 1, "the email was never sent"
        assert mine[0]["Subject"] == "Reminder: Pay rent and the power bill"
        text = mine[0].get_body(("plain",)).get_content()
        assert "Pay rent" in text and "power bill" in text
