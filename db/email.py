"""Email queries: the user's address, queueing a notification's email, claiming and recording sends."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from .models import NotificationSettings
from .serialize import iso

#: Sends are given up after this many attempts.
MAX_ATTEMPTS = 8
CLAIM_LEASE = timedelta(seconds=60)


async def get_settings(session, user_id: str) -> dict[str, Any]:
    row = (
        await session.execute(select(NotificationSettings).where(NotificationSettings.user_id == user_id))
    ).scalar_one_or_none()
    return {"email": row.email if row else None, "updated_at": iso(row.updated_at) if row else None}


async def put_settings(session, user_id: str, *, email: str | None, now: datetime) -> dict[str, Any]:
    statement = insert(NotificationSettings).values(user_id=user_id, email=email, updated_at=now)
    await session.execute(statement.on_conflict_do_update(
        index_elements=["user_id"], set_={"email": email, "updated_at": now}
    ))
    return {"email": email, "updated_at": iso(now)}


# Only for users who gave an address; a replay of the same notification (or of the same end of its
# snooze, resurfaced_until) queues nothing.
_QUEUE = text("""
    INSERT INTO email_deliveries (id, user_id, notification_id, resurfaced_until, to_address, subject, text_body,
                                  html_body)
    SELECT gen_random_uuid(), s.user_id, m.notification_id, m.resurfaced_until, s.email, m.subject, m.text_body,
           m.html_body
    FROM unnest(CAST(:users AS text[]), CAST(:notification_ids AS uuid[]), CAST(:resurfaced AS timestamptz[]),
                CAST(:subjects AS text[]), CAST(:texts AS text[]), CAST(:htmls AS text[]))
         AS m(user_id, notification_id, resurfaced_until, subject, text_body, html_body)
    JOIN notification_settings AS s ON s.user_id = m.user_id AND s.email IS NOT NULL
    ON CONFLICT (notification_id, resurfaced_until) DO NOTHING
""")


async def queue_emails(session, emails: list[tuple]) -> int:
    """Queue (user_id, notification_id, subject, text, html[, resurfaced_until]) for users with an
    address; resurfaced_until is the snooze end a notification is sent again for. Returns how many."""
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
