"""GET /api/changes: polling clients get the same changes, in the same order and shape, as a WebSocket replay."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

pytestmark = pytest.mark.integration


async def replay(http: aiohttp.ClientSession, api, since: int) -> list[dict]:
    """Everything a socket opened with `since` sends before `ready`."""
    socket = await http.ws_connect(api.base.replace("http://", "ws://") + "/ws",
                                   params={"token": api.token, "since": str(since)})
    received = []
    try:
        while True:
            message = json.loads((await asyncio.wait_for(socket.receive(), 10)).data)
            if message["type"] == "ready":
                return received
            received.append(message)
    finally:
        await socket.close()


async def changes(api, **params) -> dict:
    status, page, _ = await api.call("GET", "/api/changes", params={k: str(v) for k, v in params.items()})
    assert status == 200, page
    return page


async def test_changes_match_the_websocket_replay_for_create_update_complete_and_delete(api, other_api, http):
    kept = await api.create(title="kept")
    start = (await changes(api))["seq"]
    gone = await api.create(title="to delete", tags=["tmp"])
    await api.call("PATCH", f"/api/tasks/{kept['id']}", json_body={"title": "kept, renamed", "priority": "high"})
    await api.call("POST", f"/api/tasks/{kept['id']}/complete")
    await api.call("DELETE", f"/api/tasks/{gone['id']}")
    await other_api.create(title="someone else's")

    page = await changes(api, since=start)
    assert [(c["type"], c["task_id"]) for c in page["changes"]] == [
        ("task.created", gone["id"]), ("task.updated", kept["id"]), ("task.completed", kept["id"]),
        ("task.deleted", gone["id"]),
    ]
    assert [c["seq"] for c in page["changes"]] == list(range(start + 1, start + 5))
    assert page["seq"] == start + 4 and page["has_more"] is False and page["reset"] is False
    assert page["changes"][3]["task"]["title"] == "to delete", "a deletion carries the task it removed"
    assert page["changes"] == await replay(http, api, start), "the same changes as the WebSocket replays"
    assert (await changes(api))["changes"] == await replay(http, api, 0)

    nothing_new = await changes(api, since=page["seq"])
    assert nothing_new == {"changes": [], "seq": page["seq"], "has_more": False, "reset": False}


async def test_pages_follow_seq_until_has_more_is_false(api):
    for i in range(5):
        await api.create(title=f"task {i}")
    seen, since, pages = [], 0, 0
    while True:
        page = await changes(api, since=since, limit=2)
        seen += page["changes"]
        since, pages = page["seq"], pages + 1
        if not page["has_more"]:
            break
    assert pages == 3 and [c["task"]["title"] for c in seen] == [f"task {i}" for i in range(5)]
    assert [c["seq"] for c in seen] == [1, 2, 3, 4, 5]


async def test_a_since_beyond_the_latest_resets_like_the_websocket(api):
    await api.create(title="one")
    page = await changes(api, since=999)
    assert page == {"changes": [], "seq": 1, "has_more": False, "reset": True}


async def test_bad_parameters_answer_400_naming_the_parameter(api):
    for params, field in [({"since": "-1"}, "since"), ({"since": "abc"}, "since"), ({"limit": "0"}, "limit"),
                          ({"limit": "1001"}, "limit"), ({"limit": "many"}, "limit"), ({"after": "3"}, "after")]:
        status, error, _ = await api.call("GET", "/api/changes", params=params)
        assert status == 400, (params, error)
        assert error["details"]["field"] == field, (params, error)
