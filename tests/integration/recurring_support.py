"""Helpers shared by the recurring-task integration tests: templates, waiting for the agent, SQL checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    now = datetime.now(UTC)
    return (now + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)


async def make_template(api, **fields: Any) -> dict[str, Any]:
    body = {"title": "water the plants", "start_date": iso(tomorrow_at(9)), **fields}
    if "cron" not in fields and "rrule" not in fields:
        body.setdefault("frequency", "DAILY")
    status, template, _ = await api.call("POST", "/api/recurring-tasks", json_body=body)
    assert status == 201, template
    return template


async def occurrences(api, template_id: str, **params: str) -> dict[str, Any]:
    status, body, _ = await api.call("GET", f"/api/recurring-tasks/{template_id}/occurrences", params=params or None)
    assert status == 200, body
    return body


async def eventually(probe: Callable[[], Awaitable[Any]], *, timeout: float = 15, what: str = "condition") -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_for_occurrences(api, template_id: str, count: int, *, timeout: float = 15) -> list[dict[str, Any]]:
    async def probe():
        past = (await occurrences(api, template_id))["past"]
        return past if len(past) >= count else None

    return await eventually(probe, timeout=timeout, what=f"{count} occurrences of {template_id}")


async def sql(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def wait_processed(database_url: str, event_ids: list[str], *, timeout: float = 15) -> None:
    """Until the recurrence agent has applied (or deliberately ignored) every one of these events."""

    async def probe():
        rows = await sql(
            database_url,
            "SELECT count(*) AS n FROM processed_events WHERE consumer = 'expand_recurrences' "
            "AND event_id = ANY($1::uuid[])", event_ids,
        )
        return rows[0]["n"] == len(set(event_ids))

    await eventually(probe, timeout=timeout, what=f"the recurrence agent to process {event_ids}")


async def last_event_id(api, task_id: str) -> str:
    status, history, _ = await api.call("GET", f"/api/audit/tasks/{task_id}")
    assert status == 200, history
    return history["events"][-1]["id"]
