"""PostgreSQL stopped (or frozen) under a running worker: the API answers 503 JSON within its timeouts
(reads and writes), /ready says not ready, and once PostgreSQL is back the same worker serves again
by itself.

The session's PostgreSQL is shared by every test, so this module stops and freezes a server of its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
from stack import Api, Worker, child_processes, read_topic, start_broker

from db import migrate
from streams.cli.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration

#: A request during the outage must answer well within this (the connect timeout is 5 s).
ANSWER_WITHIN = 10.0
RECOVERY_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def own_postgres():
    folder = Path(tempfile.mkdtemp(prefix="taskstream-test-pg-restart-"))
    server = EmbeddedPostgres(folder / "data").start()
    try:
        migrate.upgrade(server.url)
        yield server
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def own_worker(own_postgres, tmp_path):
    broker = start_broker(tmp_path)
    worker = None
    try:
        worker = Worker(database_url=own_postgres.url, broker_url=broker.url, data_dir=tmp_path / "worker").start()
        yield worker, broker
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()


async def timed(api: Api, method: str, path: str, **kwargs) -> tuple[int, object, float]:
    started = time.monotonic()
    status, body, _ = await api.call(method, path, **kwargs)
    return status, body, time.monotonic() - started


async def test_with_postgres_down_the_api_answers_503_and_recovers_by_itself_when_it_returns(
        own_postgres, own_worker):
    worker, broker = own_worker
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        api = Api(http, worker.url, f"pg-restart-{uuid.uuid4()}")
        task = await api.create(title="before the outage")

        own_postgres.stop()
        stopped = time.monotonic()
        statuses: list[int] = []
        slowest = 0.0
        while time.monotonic() - stopped < 4:
            for method, path, body in (
                ("GET", "/api/tasks", None),
                ("GET", f"/api/tasks/{task['id']}", None),
                ("POST", "/api/tasks", {"title": "during the outage"}),
                ("PATCH", f"/api/tasks/{task['id']}", {"title": "changed during the outage"}),
            ):
                status, answer, took = await timed(api, method, path, json_body=body)
                statuses.append(status)
                slowest = max(slowest, took)
                assert status == 503, f"{method} {path} during the outage: {status} {answer}"
                assert answer["error"] == "database_unavailable", answer
                assert answer["details"]["reason"] in ("unreachable", "timeout"), answer
                assert took < ANSWER_WITHIN, f"{method} {path} took {took:.1f} s"
            status, ready, _ = await timed(api, "GET", "/ready")
            assert status == 503 and ready["checks"]["database"].startswith("unreachable"), ready
            await asyncio.sleep(0.2)

        await asyncio.to_thread(own_postgres.start)
        back = time.monotonic()
        failed_after_return = 0
        while True:
            status, answer, _ = await timed(api, "GET", f"/api/tasks/{task['id']}")
            if status == 200:
                break
            assert status == 503, answer
            failed_after_return += 1
            assert time.monotonic() - back < RECOVERY_TIMEOUT, f"not recovered: {answer}"
            await asyncio.sleep(0.1)
        recovered = time.monotonic() - back

        assert answer["title"] == "before the outage", "no write of the outage went through"
        after = await api.create(title="after the outage")
        status, ready, _ = await timed(api, "GET", "/ready")
        assert status == 200, ready
        events = await read_topic(broker.url, "task-events", key=api.user_id, expect=2)
        assert [e["value"]["task_id"] for e in events] == [task["id"], after["id"]]
    assert worker.process.poll() is None, "the same worker, never restarted"
    print(f"{len(statuses)} requests during the outage, all 503, slowest {slowest * 1000:.0f} ms; serving again "
          f"{recovered:.2f} s after PostgreSQL was back ({failed_after_return} requests failed meanwhile)")


def server_processes(server: EmbeddedPostgres) -> list[int]:
    """The postmaster and its children (backends, background workers)."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    return [postmaster, *(pid for pid, _ in child_processes(postmaster))]


async def test_with_postgres_frozen_a_request_gives_up_within_the_timeouts_instead_of_hanging(
        own_postgres, own_worker):
    """A server that stops answering (a network partition, a stuck host) cannot cancel anything itself:
    the client-side bounds answer for it."""
    worker, _ = own_worker
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        api = Api(http, worker.url, f"pg-frozen-{uuid.uuid4()}")
        task = await api.create(title="before the freeze")
        frozen = server_processes(own_postgres)
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            answers = await asyncio.gather(
                timed(api, "GET", f"/api/tasks/{task['id']}"),
                timed(api, "PATCH", f"/api/tasks/{task['id']}", json_body={"title": "frozen"}),
                timed(api, "GET", "/ready"),
            )
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        for status, body, took in answers[:2]:
            assert status == 503 and body["error"] == "database_unavailable", body
            assert body["details"]["reason"] == "timeout", body
            assert took < 15, f"answered after {took:.1f} s"
        assert answers[2][0] == 503
        print("frozen PostgreSQL: " + ", ".join(f"{s} in {t:.1f} s ({b.get('details', {}).get('reason', '')})"
                                                   for s, b, t in answers[:2]))
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while (await api.call("GET", f"/api/tasks/{task['id']}"))[0] != 200:
            assert time.monotonic() < deadline, "not recovered after the thaw"
            await asyncio.sleep(0.1)
