"""A slow or saturated database costs a request a bounded wait and a 503 that says what happened:
never a hang, never a 500, never a partial write."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import pytest
from stack import Api, Worker

pytestmark = pytest.mark.integration

STATEMENT_TIMEOUT_MS = 1500
CONNECT_TIMEOUT_MS = 500


@pytest.fixture(scope="module")
def slow_db_worker(postgres, broker, tmp_path_factory):
    """A worker with short database limits and small pools (2 connections for the ORM, 2 for the task routes)."""
    worker = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("timeouts"),
                    extra_env={"DATABASE_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
                               "DATABASE_CONNECT_TIMEOUT_MS": str(CONNECT_TIMEOUT_MS),
                               "DATABASE_POOL_SIZE": "2"})
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def api(slow_db_worker, http) -> Api:
    return Api(http, slow_db_worker.url, f"timeouts-{uuid.uuid4()}")


@pytest.fixture
async def locker(postgres):
    """A connection of the test's own that holds locks the API's statements must wait for."""
    conn = await asyncpg.connect(postgres.replace("postgresql+asyncpg://", "postgresql://"))
    yield conn
    await conn.close()


def assert_unavailable(status: int, body, headers, reason: str) -> None:
    assert status == 503, body
    assert body["error"] == "database_unavailable" and body["details"] == {"reason": reason}, body
    assert "retry" in body["message"], body
    assert headers["Retry-After"] == "1"


async def test_a_write_stuck_behind_a_lock_answers_503_statement_timeout_and_changes_nothing(api, locker):
    task = await api.create(title="locked")
    async with locker.transaction():
        await locker.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", uuid.UUID(task["id"]))
        started = time.monotonic()
        status, body, headers = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": "changed"})
        waited = time.monotonic() - started
    assert_unavailable(status, body, headers, "statement_timeout")
    assert "1.5 s" in body["message"] and "statement timeout" in body["message"], body
    assert STATEMENT_TIMEOUT_MS / 1000 <= waited < 10, f"waited {waited:.1f} s"

    _, now, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert (now["title"], now["version"]) == ("locked", 1), "the timed-out write left nothing behind"
    _, history, _ = await api.call("GET", f"/api/audit/tasks/{task['id']}")
    assert [e["event_type"] for e in history["events"]] == ["created"]
    status, done, _ = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": "changed"})
    assert status == 200 and done["version"] == 2, "the retry succeeds once the lock is gone"


async def test_a_read_stuck_behind_a_table_lock_answers_503_statement_timeout(api, locker):
    task = await api.create(title="read me")
    async with locker.transaction():
        await locker.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        status, body, headers = await api.call("GET", f"/api/tasks/{task['id']}")
        waited = time.monotonic() - started
    assert_unavailable(status, body, headers, "statement_timeout")
    assert waited < 10
    status, _, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert status == 200


async def test_requests_beyond_the_pool_wait_at_most_the_connect_timeout_then_answer_503(api, locker):
    task = await api.create(title="contended")
    async with locker.transaction():
        await locker.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", uuid.UUID(task["id"]))
        started = time.monotonic()
        answers = await asyncio.gather(*(
            api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": f"attempt {i}"}) for i in range(8)))
        waited = time.monotonic() - started
    reasons = []
    for status, body, headers in answers:
        assert_unavailable(status, body, headers, body.get("details", {}).get("reason", "?"))
        reasons.append(body["details"]["reason"])
    assert set(reasons) <= {"statement_timeout", "pool_timeout"}, reasons
    assert "pool_timeout" in reasons, f"8 requests, 4 connections: some waited for the pool ({reasons})"
    assert waited < 15, f"all answered within {waited:.1f} s"
    _, now, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert now["version"] == 1
