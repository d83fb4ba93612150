"""What a client may send on /ws and what it gets back: pings in any JSON spelling, clear errors otherwise."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

pytestmark = pytest.mark.integration


async def open_socket(http: aiohttp.ClientSession, api, **params) -> aiohttp.ClientWebSocketResponse:
    url = api.base.replace("http://", "ws://") + "/ws"
    return await http.ws_connect(url, params={"token": api.token, **{k: str(v) for k, v in params.items()}})


async def receive(socket: aiohttp.ClientWebSocketResponse, timeout: float = 5) -> dict:
    message = await asyncio.wait_for(socket.receive(), timeout)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


@pytest.mark.parametrize("ping", ['{"type":"ping"}', '{"type": "ping"}', ' { "type" : "ping" }\n',
                                  '{"type": "ping", "id": 7}'])
async def test_a_ping_in_any_json_spelling_gets_a_pong(api, http, ping):
    socket = await open_socket(http, api)
    try:
        ready = await receive(socket)
        assert ready["type"] == "ready"
        await socket.send_str(ping)
        assert await receive(socket) == {"type": "pong", "seq": ready["seq"]}
    finally:
        await socket.close()


@pytest.mark.parametrize("sent, says", [
    ("ping", "not JSON"),
    ('{"type": "ping"', "not JSON"),
    ('["ping"]', "JSON object"),
    ('{"kind": "ping"}', "type"),
    ('{"type": "subscribe"}', "'subscribe'"),
])
async def test_a_message_the_server_does_not_understand_gets_an_error_frame_and_the_socket_stays(api, http, sent, says):
    socket = await open_socket(http, api)
    try:
        ready = await receive(socket)
        await socket.send_str(sent)
        error = await receive(socket)
        assert error["type"] == "error" and error["error"] == "bad_message", error
        assert says in error["message"] and "ping" in error["message"], error
        # Still open and still live: a ping is answered, and a change arrives.
        await socket.send_str('{"type": "ping"}')
        assert await receive(socket) == {"type": "pong", "seq": ready["seq"]}
        task = await api.create(title="still live")
        update = await receive(socket, timeout=10)
        assert update["type"] == "task.created" and update["task"]["id"] == task["id"]
    finally:
        await socket.close()


async def test_a_binary_message_gets_an_error_frame_and_the_socket_stays(api, http):
    socket = await open_socket(http, api)
    try:
        ready = await receive(socket)
        await socket.send_bytes(b'{"type": "ping"}')
        error = await receive(socket)
        assert error["type"] == "error" and error["error"] == "bad_message" and "text" in error["message"], error
        await socket.send_str('{"type":"ping"}')
        assert await receive(socket) == {"type": "pong", "seq": ready["seq"]}
    finally:
        await socket.close()
