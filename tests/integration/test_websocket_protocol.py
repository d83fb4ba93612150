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


async def test_since_above_the_latest_sequence_number_starts_from_the_latest_and_says_so(api, http):
    """A client resuming from a sequence number the server never reached (its data was restored or reset,
    or the client mixed up users) is told its state is stale and goes live from the latest, not silent."""
    await api.create(title="one")
    socket = await open_socket(http, api)
    latest = (await receive(socket))["seq"]
    await socket.close()
    assert latest >= 1

    socket = await open_socket(http, api, since=latest + 5)
    try:
        assert await receive(socket) == {"type": "ready", "seq": latest, "reset": True}
        task = await api.create(title="after the reset")
        update = await receive(socket, timeout=10)
        assert update["type"] == "task.created" and update["task"]["id"] == task["id"]
        assert update["seq"] == latest + 1
    finally:
        await socket.close()


async def test_since_equal_to_the_latest_sequence_number_is_an_ordinary_resume(api, http):
    await api.create(title="one")
    socket = await open_socket(http, api)
    latest = (await receive(socket))["seq"]
    await socket.close()

    socket = await open_socket(http, api, since=latest)
    try:
        assert await receive(socket) == {"type": "ready", "seq": latest}
    finally:
        await socket.close()


async def test_since_on_a_user_with_no_changes_yet_is_a_reset_to_zero(api, http):
    socket = await open_socket(http, api, since=3)
    try:
        assert await receive(socket) == {"type": "ready", "seq": 0, "reset": True}
    finally:
        await socket.close()


async def test_a_socket_is_closed_with_4401_when_its_token_expires(worker, http, make_token):
    url = worker.url.replace("http://", "ws://") + "/ws"
    socket = await http.ws_connect(url, params={"token": make_token("expiring-user", ttl=2)})
    try:
        assert (await receive(socket))["type"] == "ready"
        # closed when the API would refuse the token: its exp plus the 10 s leeway
        message = await asyncio.wait_for(socket.receive(), 30)
        assert message.type == aiohttp.WSMsgType.CLOSE, message
        assert socket.close_code == 4401
        assert "expired" in message.extra
    finally:
        await socket.close()


async def test_a_socket_whose_token_is_valid_stays_open(worker, http, make_token):
    url = worker.url.replace("http://", "ws://") + "/ws"
    socket = await http.ws_connect(url, params={"token": make_token("lasting-user", ttl=3600)})
    try:
        ready = await receive(socket)
        await asyncio.sleep(3)
        await socket.send_str('{"type": "ping"}')
        assert await receive(socket) == {"type": "pong", "seq": ready["seq"]}
    finally:
        await socket.close()
