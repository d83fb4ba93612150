"""The audit trail: every change recorded once, in order, immutable, and readable after deletion."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

pytestmark = pytest.mark.integration


def plain_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def test_history_lists_every_change_oldest_first_with_before_after_and_changes(api):
    task = await api.create(title="write report", priority="low")
    tid = task["id"]
    await api.call("PATCH", f"/api/tasks/{tid}/priority", json_body={"priority": "high"})
    await api.call("POST", f"/api/tasks/{tid}/complete")
    await api.call("POST", f"/api/tasks/{tid}/uncomplete")
    await api.call("DELETE", f"/api/tasks/{tid}")

    status, history, _ = await api.call("GET", f"/api/audit/tasks/{tid}")
    assert status == 200, "still readable after the task is deleted"
    events = history["events"]
    assert [e["event_type"] for e in events] == ["created", "updated", "completed", "uncompleted", "deleted"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert all(e["user_id"] == api.user_id and e["occurred_at"].endswith("Z") for e in events)
    created, updated, completed, _, deleted = events
    assert created["before"] is None and created["after"]["title"] == "write report"
    assert updated["changes"] == {"priority": {"from": "LOW", "to": "HIGH"}}
    assert updated["before"]["priority"] == "LOW" and updated["after"]["priority"] == "HIGH"
    assert completed["changes"]["completed"] == {"from": False, "to": True}
    assert deleted["after"] is None and deleted["before"]["id"] == tid
    assert history["next_cursor"] is None


async def test_a_change_that_changes_nothing_is_not_recorded(api):
    task = await api.create(title="same")
    await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": "same"})
    await api.call("POST", f"/api/tasks/{task['id']}/uncomplete")
    _, history, _ = await api.call("GET", f"/api/audit/tasks/{task['id']}")
    assert [e["event_type"] for e in history["events"]] == ["created"]


async def test_history_pages_with_a_cursor_without_gaps_or_repeats(api):
    task = await api.create(title="t0")
    for i in range(1, 7):
        await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": f"t{i}"})
    seen, cursor = [], None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        status, page, _ = await api.call("GET", f"/api/audit/tasks/{task['id']}", params=params)
        assert status == 200 and len(page["events"]) <= 3
        seen += [e["after"]["title"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"t{i}" for i in range(7)]
    status, body, _ = await api.call("GET", f"/api/audit/tasks/{task['id']}", params={"cursor": "garbage!"})
    assert status == 400 and body["details"]["field"] == "cursor"


async def test_sequence_numbers_are_per_user_and_gap_free(api, other_api):
    a = await api.create()
    await other_api.create()
    b = await api.create()
    _, history_a, _ = await api.call("GET", f"/api/audit/tasks/{a['id']}")
    _, history_b, _ = await api.call("GET", f"/api/audit/tasks/{b['id']}")
    assert [history_a["events"][0]["seq"], history_b["events"][0]["seq"]] == [1, 2]


async def test_the_database_rejects_update_and_delete_of_audit_rows(api, postgres):
    task = await api.create(title="evidence")
    conn = await asyncpg.connect(plain_url(postgres))
    try:
        for sql in (
            "UPDATE task_events SET event_type = 'updated' WHERE task_id = $1",
            "DELETE FROM task_events WHERE task_id = $1",
        ):
            with pytest.raises(asyncpg.PostgresError, match="append-only"):
                await conn.execute(sql, uuid.UUID(task["id"]))
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("TRUNCATE task_events")
        count = await conn.fetchval("SELECT count(*) FROM task_events WHERE task_id = $1",
                                    uuid.UUID(task["id"]))
        assert count == 1
    finally:
        await conn.close()
