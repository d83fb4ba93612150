"""`taskstream mcp --transport streamable-http`: the same tools over HTTP, driven by the SDK's HTTP client."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from stack import Api, make_token

from streams.cli.embedded import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mcp exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"mcp did not listen on {port}:\n{log.read_text(errors='replace')}")


async def test_streamable_http_transport_serves_the_tools_and_writes_through_the_api(worker, http, tmp_path):
    user = f"mcp-http-{uuid.uuid4()}"
    port = free_port()
    log = tmp_path / "mcp-http.log"
    env = {**os.environ, "TASKSTREAM_URL": worker.url, "TASKSTREAM_TOKEN": make_token(user)}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from streams.app import main; main()", "mcp", "--transport", "streamable-http",
             "--port", str(port)], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(wait_for_port, port, process, log)
        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            names = {tool.name for tool in (await session.list_tools()).tools}
            assert {"add_task", "get_task_history", "add_reminder", "quick_add"} <= names
            result = await session.call_tool("add_task", {"title": "Over HTTP", "priority": "LOW"})
            assert not result.is_error, result.content
        status, task, _ = await Api(http, worker.url, user).call("GET", f"/api/tasks/{result.structured_content['id']}")
        assert status == 200 and (task["title"], task["priority"]) == ("Over HTTP", "LOW")
    finally:
        process.terminate()
        process.wait(15)
