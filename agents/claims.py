"""The loop the email sender and the webhook dispatcher share: claim a batch of due rows, attempt each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from streams.app import app


async def attempt_due(what: str, claim: Callable[..., Awaitable[list[Any]]], attempt: Callable[[Any], Awaitable[None]],
                      *, limit: int, log: logging.Logger) -> int | None:
    """Lease up to `limit` due rows with `claim(session, limit=...)` in one transaction, then run
    `attempt(row)` for all of them concurrently; returns how many were claimed. A database that
    cannot be read is logged and left for the next tick (returns None)."""
    try:
        async with app.database.transaction() as session:
            due = await claim(session, limit=limit)
    except Exception as exc:
        log.warning("%s could not read what is due: %s: %s", what, type(exc).__name__, exc)
        return None
    if due:
        await asyncio.gather(*(attempt(row) for row in due))
    return len(due)
