"""Email sender: sends queued reminder and address confirmation emails over SMTP (SMTP_URL), with retries."""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from typing import Any

from mode import Service

from db import email as queries
from streams.app import app
from streams.rules.email import SmtpConfig, header_text, parse_smtp_url
from streams.rules.webhooks import backoff
from streams.settings import get_settings

from .claims import attempt_due

log = logging.getLogger(__name__)

TICK = 0.5
CLAIM_BATCH = 20
#: Every SMTP conversation is bounded: each step (connect, each command, the message) ...
TIMEOUT = 15.0
#: ... and the whole conversation, well inside the 60 s claim lease (db/email.py), so a slow server
#: never has another worker send the same email meanwhile.
TOTAL_TIMEOUT = 40.0


def build_message(config: SmtpConfig, row: Any) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = row.to_address
    message["Subject"] = header_text(row.subject)  # also for emails queued before render() cleaned subjects
    # The same id on a retry, so clients dedupe; a notification sent again when its snooze ended is a new message.
    again = f".{int(row.resurfaced_until.timestamp() * 1000)}" if getattr(row, "resurfaced_until", None) else ""
    # An address confirmation has no notification: its own id, the same on a retry.
    message["Message-ID"] = f"<{row.notification_id or row.id}{again}@taskstream>"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


@app.service
class EmailSender(Service):
    """One per worker; claims queued emails with SKIP LOCKED, so workers never send the same one at once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._config: SmtpConfig | None = None

    async def on_start(self) -> None:
        url = get_settings().smtp_url
        self._config = parse_smtp_url(url) if url else None
        if self._config:
            log.info("reminder emails go through %s:%s (%s)", self._config.host, self._config.port,
                     "TLS" if self._config.use_tls else "STARTTLS when offered")

    @Service.timer(TICK)
    async def _send_due(self) -> None:
        if self._config is None:
            return
        await attempt_due("the email sender", queries.claim_due, self._send, limit=CLAIM_BATCH, log=log)

    async def _send(self, row: Any) -> None:
        import aiosmtplib

        config = self._config
        error = ""
        try:
            async with asyncio.timeout(TOTAL_TIMEOUT):
                await aiosmtplib.send(
                    build_message(config, row), hostname=config.host, port=config.port, username=config.username,
                    password=config.password, use_tls=config.use_tls, timeout=TIMEOUT,
                )
        except asyncio.CancelledError:
            raise
        except aiosmtplib.SMTPTimeoutError as exc:
            error = f"SMTPTimeoutError: {exc} (no answer within {TIMEOUT:.0f} s)"
        except TimeoutError:
            error = f"timed out: the SMTP conversation took longer than {TOTAL_TIMEOUT:.0f} s"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        try:
            async with app.database.transaction() as session:
                if not error:
                    await queries.record_sent(session, row.id)
                    return
                gave_up = await queries.record_failure(session, row.id, error=error,
                                                       retry_in=backoff(row.attempts + 1))
        except Exception as exc:
            log.warning("could not record email %s (notification %s): %s", row.id, row.notification_id, exc)
            return
        log.warning("email %s for notification %s failed (attempt %d)%s: %s", row.id, row.notification_id,
                    row.attempts + 1, "; given up" if gave_up else "", error)
