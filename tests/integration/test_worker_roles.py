"""Worker roles: a `web` worker serves the API and WebSockets, a `stream` worker runs the agents behind it
and answers only its probes and metrics, and each stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import aiohttp
import asyncpg
import pytest
from stack import Api, Worker, own_database, read_topic, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def role_stack(embedded_pg, tmp_path_factory):
    """A database and broker of these tests' own: the session worker (role all) would fan out for them."""
    tmp = tmp_path_factory.mktemp("roles")
    with own_database(embedded_pg, "roles") as url:
        broker = start_broker(tmp)
        try:
            yield url, broker, tmp
        finally:
            broker.stop()


def role_worker(role_stack, role: str, name: str) -> Worker:
    url, broker, tmp = role_stack
    return Worker(database_url=url, broker_url=broker.url, data_dir=tmp / name, extra_env={"WORKER_ROLE": role})


async def receive(socket: aiohttp.ClientWebSocketResponse, timeout: float) -> dict:
    message = await asyncio.wait_for(socket.receive(), timeout)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def test_a_write_reaches_another_web_workers_socket_only_through_a_stream_workers_fan_out(role_stack):
    """A web worker pushes its own commits to the sockets it holds; a socket on another web worker hears
    of them through task-updates, which only a stream worker's fan-out writes."""
    writer = role_worker(role_stack, "web", "web-writer").start()
    other = role_worker(role_stack, "web", "web-other").start()
    stream = role_worker(role_stack, "stream", "stream")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            api = Api(http, writer.url, f"roles-{uuid.uuid4()}")
            own = await http.ws_connect(writer.url.replace("http://", "ws://") + "/ws", params={"token": api.token})
            elsewhere = await http.ws_connect(other.url.replace("http://", "ws://") + "/ws",
                                              params={"token": api.token})
            try:
                assert (await receive(own, 10))["type"] == "ready"
                assert (await receive(elsewhere, 10))["type"] == "ready"
                task = await api.create(title="written on web")
                update = await receive(own, 10)
                assert update["type"] == "task.created" and update["task"]["id"] == task["id"]
                # Committed and published by the writer's relay, but nobody fans it out yet.
                with pytest.raises(asyncio.TimeoutError):
                    await receive(elsewhere, 2.0)

                stream.start()
                update = await receive(elsewhere, 30)
                assert update["type"] == "task.created" and update["task"]["id"] == task["id"]
            finally:
                await own.close()
                await elsewhere.close()
    finally:
        stream.stop()
        other.stop()
        writer.stop()


async def test_a_stream_worker_answers_its_probes_and_metrics_and_404s_the_api(role_stack):
    stream = role_worker(role_stack, "stream", "stream-probes").start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.get(stream.url + "/health") as response:
                assert response.status == 200
            async with http.get(stream.url + "/ready") as response:
                assert response.status == 200
                assert (await response.json())["checks"] == {"kafka": "ok", "database": "ok"}
            async with http.get(stream.url + "/metrics") as response:
                assert response.status == 200
                assert "taskstream_consumer_lag" in await response.text()
            api = Api(http, stream.url, f"roles-{uuid.uuid4()}")
            for method, path in (("GET", "/api/tasks"), ("POST", "/api/tasks"), ("GET", "/ws")):
                status, body, _ = await api.call(method, path, json_body={"title": "no"} if method == "POST" else None)
                assert status == 404 and body["error"] == "not_found", (method, path, status, body)
    finally:
        stream.stop()


async def task_ids_on(broker_url: str, topic: str, user_id: str, task_id, want: int = 3) -> set[str]:
    """The task ids of a user's messages on a topic, once `want` distinct ones arrived (or what came in
    time): delivery is at-least-once, so a message may be there twice."""
    for expect in range(want, 2 * want + 1):
        ids = {task_id(m["value"]) for m in await read_topic(broker_url, topic, key=user_id, expect=expect)}
        if len(ids) >= want:
            break
    return ids


async def test_a_stream_worker_publishes_what_a_killed_web_worker_left_in_the_outbox(role_stack):
    """Committed on web while the broker was frozen, the web worker killed before it could publish: no
    other web worker runs, so only the stream worker's sweep can put those events on the broker."""
    url, broker, _ = role_stack
    web = role_worker(role_stack, "web", "web-killed").start()
    stream = role_worker(role_stack, "stream", "stream-sweeps").start()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            api = Api(http, web.url, f"roles-{uuid.uuid4()}")
            broker.freeze()
            try:
                created = [(await api.create(title=f"left behind {i}"))["id"] for i in range(3)]
                web.process.kill()
                web.process.wait(10)
            finally:
                broker.thaw()
        deadline = time.monotonic() + 45  # the 10 s publish lease, then the 1 s sweep, then the broker
        while await conn.fetchval("SELECT count(*) FROM outbox WHERE key = $1 AND published_at IS NULL",
                                  api.user_id):
            assert time.monotonic() < deadline, f"the stream worker did not publish them:\n{stream.log_tail()}"
            await asyncio.sleep(0.5)
        assert await task_ids_on(broker.url, "task-events", api.user_id, lambda v: v["task_id"]) == set(created)
        # ...and fanned them out, as it does any event.
        assert await task_ids_on(broker.url, "task-updates", api.user_id, lambda v: v["task"]["id"]) == set(created)
    finally:
        await conn.close()
        web.stop()
        stream.stop()


@pytest.mark.parametrize("role", ["web", "stream"])
async def test_sigterm_stops_each_role_with_exit_code_0_and_web_sockets_hear_1001(role_stack, role):
    worker = role_worker(role_stack, role, f"stop-{role}").start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            socket = None
            if role == "web":
                api = Api(http, worker.url, f"roles-{uuid.uuid4()}")
                socket = await http.ws_connect(worker.url.replace("http://", "ws://") + "/ws",
                                               params={"token": api.token})
                assert (await receive(socket, 10))["type"] == "ready"
            started = time.monotonic()
            worker.process.send_signal(signal.SIGTERM)
            if socket is not None:
                closed = await socket.receive(timeout=10)
                assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1001), closed
            code = await asyncio.to_thread(worker.process.wait, 30)
            assert code == 0, worker.log_tail()
            assert time.monotonic() - started < 20
    finally:
        worker.stop()


@pytest.mark.parametrize("command,message", [
    (["-c", "from streams.app import main; main()", "worker", "--role", "api"],
     "--role must be one of all, web, stream; got 'api'"),
    # Faust's own command imports the app before it parses --role: refused, not silently run as all.
    (["-m", "faust", "-A", "streams.app", "worker", "--role", "web"],
     "--role web came too late: the app was loaded for role all"),
])
def test_a_role_the_worker_cannot_honour_is_refused_with_exit_code_2(command, message, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "WORKER_ROLE"}
    result = subprocess.run([sys.executable, *command], env={**env, "DATA_DIR": str(tmp_path)}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
