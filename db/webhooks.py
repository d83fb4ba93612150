"""Webhook queries: subscriptions, queueing deliveries (idempotently), claiming and recording attempts."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update

from streams.rules.webhooks import DISABLE_AFTER, MAX_ATTEMPTS, patterns_for

from .errors import Conflict
from .models import Webhook, WebhookDelivery
from .serialize import iso

MAX_PER_USER = 20
#: While one worker is POSTing a claimed delivery, others leave it alone this long (longer than the timeout).
CLAIM_LEASE = timedelta(seconds=60)


def webhook_json(hook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    data = {
        "id": str(hook.id),
        "url": hook.url,
        "events": list(hook.events),
        "active": hook.active,
        "consecutive_failures": hook.consecutive_failures,
        "disabled_at": iso(hook.disabled_at),
        "disabled_reason": hook.disabled_reason,
        "created_at": iso(hook.created_at),
    }
    if with_secret:
        data["secret"] = hook.secret
    return data


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "event_id": row.event_id,
        "event_type": row.event_type,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at) if row.status == "pending" else None,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at),
    }


#: The first key of the (int4, int4) advisory lock that serialises one user's webhook creates.
_LIMIT_LOCK_CLASS = 16012


async def create_webhook(session, user_id: str, *, url: str, events: list[str], secret: str,
                         now: datetime) -> Webhook:
    """Insert a webhook unless the user has MAX_PER_USER already; call it in a transaction. Creates of one
    user take turns (a lock held to commit), so concurrent ones cannot all count below the limit."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:class, hashtext(:user_id))"),
                          {"class": _LIMIT_LOCK_CLASS, "user_id": user_id})
    # A statement of its own after the lock: under READ COMMITTED it sees a create committed meanwhile.
    count = (await session.execute(select(func.count()).where(Webhook.user_id == user_id))).scalar_one()
    if count >= MAX_PER_USER:
        raise Conflict(f"you already have {count} webhooks, the most allowed; delete one first", field="url")
    hook = Webhook(id=uuid.uuid4(), user_id=user_id, url=url, events=events, secret=secret, active=True,
                   consecutive_failures=0, created_at=now)
    session.add(hook)
    await session.flush()
    return hook


async def list_webhooks(session, user_id: str) -> list[Webhook]:
    query = select(Webhook).where(Webhook.user_id == user_id).order_by(Webhook.created_at, Webhook.id)
    return list((await session.execute(query)).scalars())


async def get_webhook(session, user_id: str, webhook_id: uuid.UUID) -> Webhook | None:
    return (
        await session.execute(select(Webhook).where(Webhook.id == webhook_id, Webhook.user_id == user_id))
    ).scalar_one_or_none()


async def enable_webhook(session, user_id: str, webhook_id: uuid.UUID) -> Webhook | None:
    """Turn a webhook on again with a clean failure count; None when the user has no such webhook.
    Deliveries given up while it was disabled stay given up: it gets the events from now on."""
    return (
        await session.execute(
            update(Webhook).where(Webhook.id == webhook_id, Webhook.user_id == user_id)
            .values(active=True, consecutive_failures=0, disabled_at=None, disabled_reason=None)
            .returning(Webhook)
        )
    ).scalar_one_or_none()


async def delete_webhook(session, user_id: str, webhook_id: uuid.UUID) -> bool:
    result = await session.execute(delete(Webhook).where(Webhook.id == webhook_id, Webhook.user_id == user_id))
    return bool(result.rowcount)


async def deliveries(session, webhook_id: uuid.UUID, *, limit: int) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)
    )
    return list((await session.execute(query)).scalars())


# Queueing ---------------------------------------------------------------------------------------

# One statement for every matching active webhook of each user; a replayed event adds nothing.
_QUEUE = text("""
    INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload)
    SELECT gen_random_uuid(), w.id, e.event_id, :event_type,
           jsonb_set(CAST(e.payload AS jsonb), '{webhook_id}', to_jsonb(w.id::text))
    FROM unnest(CAST(:users AS text[]), CAST(:event_ids AS text[]), CAST(:payloads AS text[]))
         AS e(user_id, event_id, payload)
    JOIN webhooks AS w ON w.user_id = e.user_id AND w.active AND w.events && CAST(:patterns AS text[])
    ON CONFLICT (webhook_id, event_id) DO NOTHING
""")


async def queue_events(session, event_type: str, events: list[tuple[str, str, str, dict[str, Any]]]) -> int:
    """Queue events of one type, each (user_id, event_id, occurred_at, data), for the webhooks that
    subscribe to it; returns how many deliveries were queued."""
    if not events:
        return 0
    result = await session.execute(_QUEUE, {
        "event_type": event_type,
        "users": [user for user, *_ in events],
        "event_ids": [event_id for _, event_id, _, _ in events],
        "payloads": [json.dumps({"event_id": event_id, "event": event_type, "occurred_at": occurred_at,
                                 "data": data}) for _, event_id, occurred_at, data in events],
        "patterns": patterns_for(event_type),
    })
    return result.rowcount or 0


async def queue_event(session, user_id: str, *, event_id: str, event_type: str, occurred_at: str,
                      data: dict[str, Any]) -> int:
    """Queue one event for each of the user's webhooks that subscribe to it."""
    return await queue_events(session, event_type, [(user_id, event_id, occurred_at, data)])


# Dispatching ------------------------------------------------------------------------------------

_CLAIM = text("""
    UPDATE webhook_deliveries AS d SET next_attempt_at = clock_timestamp() + CAST(:lease AS interval)
    FROM webhooks AS w
    WHERE w.id = d.webhook_id AND d.id IN (
        SELECT id FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING d.id, d.webhook_id, d.event_type, d.payload, d.attempts, w.url, w.secret, w.active
""")


async def claim_due(session, *, limit: int) -> list[Any]:
    return list((await session.execute(_CLAIM, {"lease": CLAIM_LEASE, "limit": limit})).all())


# The earliest pending delivery, read from the partial index of pending ones (one row at most).
_DUE_IN = text("""
    SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - clock_timestamp())
    FROM webhook_deliveries WHERE status = 'pending'
""")


async def seconds_until_due(session) -> float | None:
    """Seconds until the next pending delivery is due by the database's clock (0 or less: due now);
    None when nothing is pending. Claimed deliveries count from the end of their lease."""
    due_in = (await session.execute(_DUE_IN)).scalar()
    return None if due_in is None else float(due_in)


async def record_success(session, delivery_id: uuid.UUID, webhook_id: uuid.UUID, status_code: int) -> None:
    await session.execute(text("""
        UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1, delivered_at = clock_timestamp(),
               last_status_code = :code, last_error = NULL
        WHERE id = :id
    """), {"id": delivery_id, "code": status_code})
    await session.execute(text("UPDATE webhooks SET consecutive_failures = 0 WHERE id = :id"), {"id": webhook_id})


async def record_failure(session, delivery_id: uuid.UUID, webhook_id: uuid.UUID, *, status_code: int | None,
                         error: str, retry_in: timedelta) -> tuple[bool, bool]:
    """Count the failed attempt; (delivery given up, webhook disabled)."""
    attempts = (await session.execute(text("""
        UPDATE webhook_deliveries
        SET attempts = attempts + 1, last_status_code = :code, last_error = :error,
            status = CASE WHEN attempts + 1 >= :max THEN 'failed' ELSE 'pending' END,
            next_attempt_at = clock_timestamp() + CAST(:retry_in AS interval)
        WHERE id = :id RETURNING attempts
    """), {"id": delivery_id, "code": status_code, "error": error[:1000], "max": MAX_ATTEMPTS,
           "retry_in": retry_in})).scalar_one()
    disabled = (await session.execute(text("""
        UPDATE webhooks SET consecutive_failures = consecutive_failures + 1,
               active = active AND consecutive_failures + 1 < :limit,
               disabled_at = CASE WHEN active AND consecutive_failures + 1 >= :limit THEN clock_timestamp()
                                  ELSE disabled_at END,
               disabled_reason = CASE WHEN active AND consecutive_failures + 1 >= :limit
                                      THEN :reason ELSE disabled_reason END
        WHERE id = :id RETURNING NOT active AND disabled_at IS NOT NULL
    """), {"id": webhook_id, "limit": DISABLE_AFTER,
           "reason": f"{DISABLE_AFTER} failed attempts in a row; the last: {error[:500]}"})).scalar_one()
    if disabled:
        await give_up_disabled(session, webhook_id)
    return attempts >= MAX_ATTEMPTS, disabled


async def give_up_disabled(session, webhook_id: uuid.UUID) -> None:
    """A disabled webhook's queue is closed, so the log says what happened to each event."""
    await session.execute(text("""
        UPDATE webhook_deliveries SET status = 'failed', last_error = coalesce(last_error, 'webhook disabled')
        WHERE webhook_id = :id AND status = 'pending'
    """), {"id": webhook_id})
