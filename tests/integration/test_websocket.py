"""Live updates over /ws: every socket of a user sees every change, in order, and only theirs."""

from __future__ import annotations

import asyncio
import json
import uuid

import aiohttp
import pytest
from stack import Api, Worker

pytestmark = pytest.mark.integration


async def connect(http: aiohttp.ClientSession, base: str, token: str, **params) -> aiohttp.ClientWebSocketResponse:
    url = base.replace("http://", "ws://") + "/ws"
    socket = await http.ws_connect(url, params={"token": token, **{k: str(v) for k, v in params.items()}})
    ready = await receive(socket)
    assert ready["type"] == "ready", ready
    socket.ready_seq = ready["seq"]  # type: ignore[attr-defined]
    return socket


async def receive(socket: aiohttp.ClientWebSocketResponse, timeout: float = 10) -> dict:
    message = await asyncio.wait_for(socket.receive(), timeout)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def updates(socket, count: int, timeout: float = 10) -> list[dict]:
    return [await receive(socket, timeout) for _ in range(count)]


async def test_two_sockets_of_one_user_both_see_a_rest_change_and_others_see_nothing(api, other_api, http):
    mine_a = await connect(http, api.base, api.token)
    mine_b = await connect(http, api.base, api.token)
    theirs = await connect(http, other_api.base, other_api.token)
    try:
        task = await api.create(title="shared live")
        await api.call("POST", f"/api/tasks/{task['id']}/complete")
        for socket in (mine_a, mine_b):
            created, completed = await updates(socket, 2)
            assert (created["type"], completed["type"]) == ("task.created", "task.completed")
            assert created["task"]["id"] == task["id"] and completed["task"]["completed"] is True
            assert completed["seq"] == created["seq"] + 1
        with pytest.raises(asyncio.TimeoutError):
            await receive(theirs, timeout=1.5)
    finally:
        for socket in (mine_a, mine_b, theirs):
            await socket.close()


async def test_resume_with_since_replays_exactly_the_missed_changes_in_order_then_goes_live(api, http):
    first = await api.create(title="before the disconnect")
    socket = await connect(http, api.base, api.token)
    seen_seq = socket.ready_seq
    await socket.close()

    second = await api.create(title="missed 1")
    await api.call("PATCH", f"/api/tasks/{first['id']}", json_body={"title": "missed 2"})
    await api.call("DELETE", f"/api/tasks/{second['id']}")

    # The replay comes before `ready`, so read the raw stream rather than through connect().
    socket = await http.ws_connect(api.base.replace("http://", "ws://") + "/ws",
                                   params={"token": api.token, "since": str(seen_seq)})
    try:
        replayed = await updates(socket, 4)
        assert [u["type"] for u in replayed] == ["task.created", "task.updated", "task.deleted", "ready"]
        assert [u["seq"] for u in replayed[:3]] == [seen_seq + 1, seen_seq + 2, seen_seq + 3]
        assert replayed[1]["task"]["title"] == "missed 2"
        live = await api.create(title="live again")
        update = await receive(socket)
        assert update["type"] == "task.created" and update["task"]["id"] == live["id"]
        assert update["seq"] == seen_seq + 4
    finally:
        await socket.close()


@pytest.mark.parametrize("how", ["header", "query", "subprotocol"])
async def test_every_way_to_authenticate_works(api, http, how):
    url = api.base.replace("http://", "ws://") + "/ws"
    kwargs = {
        "header": {"headers": {"Authorization": f"Bearer {api.token}"}},
        "query": {"params": {"token": api.token}},
        "subprotocol": {"protocols": ("bearer", api.token)},
    }[how]
    socket = await http.ws_connect(url, **kwargs)
    try:
        assert (await receive(socket))["type"] == "ready"
        if how == "subprotocol":
            assert socket.protocol == "bearer"
    finally:
        await socket.close()


async def test_a_bad_token_or_since_is_refused_before_the_upgrade(api, http):
    url = api.base.replace("http://", "ws://") + "/ws"
    for params, status in (({}, 401), ({"token": "nope"}, 401), ({"token": api.token, "since": "-1"}, 400)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url, params=params)
        assert info.value.status == status


@pytest.fixture(scope="module")
def second_worker(postgres, broker, tmp_path_factory):
    worker = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("worker-b"))
    worker.start()
    yield worker
    worker.stop()


async def test_a_change_handled_by_one_worker_reaches_a_socket_on_another(worker, second_worker, http):
    user = f"cross-{uuid.uuid4()}"
    on_a, on_b = Api(http, worker.url, user), Api(http, second_worker.url, user)
    socket = await connect(http, second_worker.url, on_b.token)
    try:
        task = await on_a.create(title="written on A")
        update = await receive(socket, timeout=20)
        assert update["type"] == "task.created" and update["task"]["id"] == task["id"]
    finally:
        await socket.close()
