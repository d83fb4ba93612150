"""Email queries: the user's address and its confirmation, queueing and claiming emails, recording sends."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert

from .models import EmailDelivery, NotificationSettings
from .serialize import iso

#: Sends are given up after this many attempts.
MAX_ATTEMPTS = 8
CLAIM_LEASE = timedelta(seconds=60)
#: How long an address confirmation link works, and how soon another may be asked for.
CONFIRMATION_VALID = timedelta(hours=24)
RESEND_AFTER = timedelta(minutes=1)


def _settings(row: Any) -> dict[str, Any]:
    return {
        "email": row.email if row else None,
        "email_confirmed": bool(row and row.email and row.email_confirmed_at),
        "confirmation_sent_at": iso(row.confirmation_sent_at) if row and row.email_confirmed_at is None else None,
        "updated_at": iso(row.updated_at) if row else None,
    }


async def get_settings(session, user_id: str) -> dict[str, Any]:
    row = (
        await session.execute(select(NotificationSettings).where(NotificationSettings.user_id == user_id))
    ).scalar_one_or_none()
    return _settings(row)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def put_settings(session, user_id: str, *, email: str | None, now: datetime,
                       token: str | None = None) -> tuple[dict[str, Any], bool]:
    """Set the address; (settings, whether a confirmation link is to be sent with `token`).

    The same, confirmed address stays confirmed; any other address is unconfirmed until its link is
    followed, and setting an unconfirmed address again replaces its link (the old one stops working).
    Without `token` (no SMTP_URL: nothing could be mailed) a new address just waits unconfirmed."""
    # Insert-then-lock: two first PUTs at once both find the row instead of both inserting it.
    await session.execute(insert(NotificationSettings).values(user_id=user_id, updated_at=now)
                          .on_conflict_do_nothing(index_elements=["user_id"]))
    row = (await session.execute(
        select(NotificationSettings).where(NotificationSettings.user_id == user_id).with_for_update()
    )).scalar_one()
    keep = email is not None and row.email == email and row.email_confirmed_at is not None
    send = email is not None and not keep and token is not None
    row.email, row.updated_at = email, now
    if not keep:
        row.email_confirmed_at = None
        row.confirmation_token_hash = token_hash(token) if send else None
        row.confirmation_expires_at = now + CONFIRMATION_VALID if send else None
        row.confirmation_sent_at = now if send else None
    await session.flush()
    return _settings(row), send


async def resend_token(session, user_id: str, *, now: datetime, token: str) -> tuple[str | None, datetime | None]:
    """A new link for the caller's unconfirmed address: (the address, None) when one is to be sent with
    `token`; (address or None, when the next may be sent) when there is none or it is too soon."""
    row = (await session.execute(
        select(NotificationSettings).where(NotificationSettings.user_id == user_id).with_for_update()
    )).scalar_one_or_none()
    if row is None or row.email is None or row.email_confirmed_at is not None:
        return None, None
    if row.confirmation_sent_at is not None and now < row.confirmation_sent_at + RESEND_AFTER:
        return row.email, row.confirmation_sent_at + RESEND_AFTER
    row.confirmation_token_hash = token_hash(token)
    row.confirmation_expires_at = now + CONFIRMATION_VALID
    row.confirmation_sent_at = now
    return row.email, None


async def confirm(session, token: str, *, now: datetime) -> str | None:
    """Confirm the address whose link carries `token`, once; its user, or None for a wrong, used or
    expired token."""
    return (await session.execute(
        update(NotificationSettings)
        .where(NotificationSettings.confirmation_token_hash == token_hash(token),
               NotificationSettings.confirmation_expires_at > now, NotificationSettings.email.is_not(None))
        .values(email_confirmed_at=now, confirmation_token_hash=None, confirmation_expires_at=None)
        .returning(NotificationSettings.user_id)
    )).scalar_one_or_none()


async def queue_confirmation(session, user_id: str, *, to_address: str, subject: str, text_body: str,
                             html_body: str) -> None:
    """Queue the confirmation email: a delivery with no notification."""
    await session.execute(insert(EmailDelivery).values(
        id=uuid.uuid4(), user_id=user_id, notification_id=None, to_address=to_address, subject=subject[:255],
        text_body=text_body, html_body=html_body,
    ))


# Only for users whose address is confirmed; a replay of the same notification (or of the same end of its
# snooze, resurfaced_until) queues nothing.
_QUEUE = text("""
    INSERT INTO email_deliveries (id, user_id, notification_id, resurfaced_until, to_address, subject, text_body,
                                  html_body)
    SELECT gen_random_uuid(), s.user_id, m.notification_id, m.resurfaced_until, s.email, m.subject, m.text_body,
           m.html_body
    FROM unnest(CAST(:users AS text[]), CAST(:notification_ids AS uuid[]), CAST(:resurfaced AS timestamptz[]),
                CAST(:subjects AS text[]), CAST(:texts AS text[]), CAST(:htmls AS text[]))
         AS m(user_id, notification_id, resurfaced_until, subject, text_body, html_body)
    JOIN notification_settings AS s
      ON s.user_id = m.user_id AND s.email IS NOT NULL AND s.email_confirmed_at IS NOT NULL
    ON CONFLICT (notification_id, resurfaced_until) WHERE notification_id IS NOT NULL DO NOTHING
""")


async def queue_emails(session, emails: list[tuple]) -> int:
    """Queue (user_id, notification_id, subject, text, html[, resurfaced_until]) for users with a
    confirmed address; resurfaced_until is the snooze end a notification is sent again for. Returns how many."""
    if not emails:
        return 0
    result = await session.execute(_QUEUE, {
        "users": [e[0] for e in emails], "notification_ids": [e[1] for e in emails],
        "resurfaced": [e[5] if len(e) > 5 else None for e in emails],
        "subjects": [e[2][:255] for e in emails], "texts": [e[3] for e in emails], "htmls": [e[4] for e in emails],
    })
    return result.rowcount or 0


_CLAIM = text("""
    UPDATE email_deliveries SET next_attempt_at = clock_timestamp() + CAST(:lease AS interval)
    WHERE id IN (
        SELECT id FROM email_deliveries
        WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
        ORDER BY next_attempt_at LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, notification_id, resurfaced_until, to_address, subject, text_body, html_body, attempts
""")


async def claim_due(session, *, limit: int) -> list[Any]:
    return list((await session.execute(_CLAIM, {"lease": CLAIM_LEASE, "limit": limit})).all())


async def record_sent(session, delivery_id: uuid.UUID) -> None:
    await session.execute(text("""
        UPDATE email_deliveries SET status = 'sent', attempts = attempts + 1, sent_at = clock_timestamp(),
               last_error = NULL
        WHERE id = :id
    """), {"id": delivery_id})


async def record_failure(session, delivery_id: uuid.UUID, *, error: str, retry_in: timedelta) -> bool:
    """Count the failed attempt; True when the send is given up."""
    attempts = (await session.execute(text("""
        UPDATE email_deliveries
        SET attempts = attempts + 1, last_error = :error,
            status = CASE WHEN attempts + 1 >= :max THEN 'failed' ELSE 'pending' END,
            next_attempt_at = clock_timestamp() + CAST(:retry_in AS interval)
        WHERE id = :id RETURNING attempts
    """), {"id": delivery_id, "error": error[:1000], "max": MAX_ATTEMPTS, "retry_in": retry_in})).scalar_one()
    return attempts >= MAX_ATTEMPTS
