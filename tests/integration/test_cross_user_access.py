"""Users see only their own data, on every route: another user's id answers 404 exactly like a missing one.

The routes come from the OpenAPI document itself, so a new route with an id in its path fails here until
this file says how to create what that id names (OWNED) or why it names nothing of a user's (NOT_OWNED),
and a new route with a body fails until BODIES has a valid one for it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stack import Api

from web.openapi import document

pytestmark = pytest.mark.integration

METHODS = ("get", "put", "post", "patch", "delete")
#: A string only user A's data holds: it must never appear in anything user B gets back.
MARKER = "alpha-private-7f3c"

#: Path variables that name something of a user's -> the key of USER A's resources that fills it in.
OWNED = {
    "task_id": "task",
    "view_id": "view",
    "reminder_id": "reminder",
    "notification_id": "notification",
    "webhook_id": "webhook",
    "template_id": "template",
}
#: Path variables that name nothing a user owns, and why.
NOT_OWNED = {
    "tag": "a tag of the task in the same path: task_id decides whose it is",
    "path": "a file of the dashboard, the same for everyone",
    "token": "the calendar feed's secret: the URL is the credential (a wrong one is a 404, tested elsewhere)",
}
#: A valid body for every operation that takes one, so that the answer depends on ownership only.
BODIES: dict[str, Any] = {
    "updateTask": {"title": "taken over"},
    "setTaskPriority": {"priority": "low"},
    "setTaskDueDate": {"due_date": None},
    "addTaskTags": {"tags": ["stolen"]},
    "createReminder": {"before_due": "PT1H"},
    "snoozeNotification": {"minutes": 5},
    "updateRecurringTask": {"title": "taken over"},
    "createTask": {"title": "b's own"},
    "quickAddTask": {"text": "b's own tomorrow 5pm #mine"},
    "createView": {"name": "b's view", "filter": "#work"},
    "updateView": {"name": "taken over"},
    "replaceView": {"name": "taken over", "filter": "#work"},
    "importData": {"format": "taskstream-export", "version": 1},
    "putNotificationSettings": {"email": None},
    "putSettings": {"time_zone": "Europe/Berlin"},
    "createWebhook": {"url": "http://127.0.0.1:9/b", "events": ["task.deleted"]},
    "createRecurringTask": {"title": "b's own", "frequency": "daily", "start_date": "2099-01-01T09:00:00Z"},
}


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def path_variables(path: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", path)


def id_routes() -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for m, p, op in operations() if any(name in OWNED for name in path_variables(p))]


def test_every_path_variable_is_known_to_this_file():
    variables = {name for _, path, _ in operations() for name in path_variables(path)}
    unknown = variables - set(OWNED) - set(NOT_OWNED)
    assert not unknown, f"say how to create what {sorted(unknown)} names (OWNED) or why it is nobody's (NOT_OWNED)"
    assert id_routes(), "the document lists no route with an id"


def test_every_route_with_a_body_has_a_valid_one_here():
    missing = [op["operationId"] for _, _, op in operations()
               if "requestBody" in op and op["operationId"] not in BODIES]
    assert not missing, f"add a valid body to BODIES for {missing}"


async def until(probe, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await probe():
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"not within {timeout} s")


async def user_a_resources(api: Api) -> dict[str, dict[str, Any]]:
    """One of everything user A can own, each holding MARKER where it has text."""
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    task = await api.create(title=f"{MARKER} task", description=MARKER, tags=[MARKER], due_date=future)
    tagged = {**task, "tag": MARKER}

    async def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer, _ = await api.call("POST", path, json_body=body)
        assert status == 201, (path, answer)
        return answer

    view = await created("/api/views", {"name": f"{MARKER} view", "filter": f"#{MARKER}"})
    webhook = await created("/api/webhooks", {"url": f"http://127.0.0.1:9/{MARKER}", "events": ["task.deleted"]})
    template = await created("/api/recurring-tasks", {
        "title": f"{MARKER} template", "frequency": "daily", "start_date": "2099-01-01T09:00:00Z",
    })
    reminder = await created(f"/api/tasks/{task['id']}/reminders", {"before_due": "PT1H"})
    # A notification comes only from a reminder that fires: one due in a second.
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    await created(f"/api/tasks/{task['id']}/reminders", {"remind_at": soon})

    async def notification():
        _, page, _ = await api.call("GET", "/api/notifications")
        return page["notifications"][0] if page["notifications"] else None

    status, _, _ = await api.call("PUT", "/api/notification-settings", json_body={"email": f"{MARKER}@example.com"})
    assert status == 200
    return {"task": tagged, "view": view, "webhook": webhook, "template": template, "reminder": reminder,
            "notification": await until(notification)}


def fill(path: str, resources: dict[str, dict[str, Any]]) -> str:
    values = {name: resources[key]["id"] for name, key in OWNED.items()} | {"tag": resources["task"]["tag"]}
    return path.format(**values)


async def snapshot(api: Api, resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What user A sees of each resource: unchanged after everything user B tried."""
    task, template = resources["task"]["id"], resources["template"]["id"]
    result = {}
    for name, path in {
        "task": f"/api/tasks/{task}", "view": f"/api/views/{resources['view']['id']}",
        "webhook": f"/api/webhooks/{resources['webhook']['id']}", "template": f"/api/recurring-tasks/{template}",
        "reminders": f"/api/tasks/{task}/reminders", "notifications": "/api/notifications",
        "settings": "/api/notification-settings", "audit": f"/api/audit/tasks/{task}",
    }.items():
        status, body, _ = await api.call("GET", path)
        assert status == 200, (path, body)
        result[name] = body
    return result


def leaks(text: str, resources: dict[str, dict[str, Any]]) -> list[str]:
    secrets = [MARKER, *(resource["id"] for resource in resources.values())]
    return [secret for secret in secrets if secret in text]


async def test_another_users_ids_answer_404_on_every_route_and_change_nothing(api, other_api):
    mine = await user_a_resources(api)
    before = await snapshot(api, mine)
    checked = []
    for method, path, operation in id_routes():
        url = fill(path, mine)
        body = BODIES.get(operation["operationId"]) if "requestBody" in operation else None
        status, answer, _ = await other_api.call(method.upper(), url, json_body=body)
        where = f"{method.upper()} {path} as another user"
        assert status == 404, f"{where}: {status} {answer}"
        assert answer["error"] == "not_found", where
        assert MARKER not in json.dumps(answer), f"{where} leaked user A's data: {answer}"
        checked.append(operation["operationId"])
    assert len(checked) == len(id_routes())
    # The same routes for ids that exist nowhere answer exactly alike: 404 does not reveal which ids exist.
    nobody = {key: {"id": str(uuid.uuid4())} for key in OWNED.values()}
    nobody["task"]["tag"] = "x"
    for method, path, operation in id_routes():
        body = BODIES.get(operation["operationId"]) if "requestBody" in operation else None
        status, answer, _ = await other_api.call(method.upper(), fill(path, nobody), json_body=body)
        assert (status, answer["error"]) == (404, "not_found"), f"{method.upper()} {path}"
    assert await snapshot(api, mine) == before, "user B's requests changed user A's data"


async def test_lists_and_feeds_never_show_another_users_items(api, other_api):
    mine = await user_a_resources(api)
    await other_api.create(title="b's own task")
    lists = [(m, p) for m, p, _ in operations() if m == "get" and p.startswith("/api/") and not path_variables(p)]
    assert ("get", "/api/tasks") in lists and ("get", "/api/calendar.ics") in lists
    for method, path in lists:
        status, answer, _ = await other_api.call(method.upper(), path)
        assert status == 200, (path, answer)
        text = answer if isinstance(answer, str) else json.dumps(answer)
        assert not leaks(text, mine), f"GET {path} shows user A's data to user B: {leaks(text, mine)}"
    # Filters and search that would match A's items find nothing of them for B.
    for params in ({"search": MARKER}, {"tags": MARKER}, {"filter": f"#{MARKER}"}, {"completed": "false"}):
        status, page, _ = await other_api.call("GET", "/api/tasks", params=params)
        assert status == 200 and not leaks(json.dumps(page), mine), params
    # A's saved view is not B's to apply: the same 400 as a view that does not exist.
    status, error, _ = await other_api.call("GET", "/api/tasks", params={"view": mine["view"]["id"]})
    assert (status, error["details"]["field"]) == (400, "view")
    # Marking all read as B leaves A's notification unread.
    await other_api.call("POST", "/api/notifications/read-all")
    _, page, _ = await api.call("GET", "/api/notifications")
    assert page["notifications"][0]["read"] is False


async def test_a_socket_never_replays_or_receives_another_users_changes(api, other_api, http):
    task = (await api.create(title=f"{MARKER} task"))["id"]
    status, template, _ = await api.call("POST", "/api/recurring-tasks", json_body=BODIES["createRecurringTask"])
    assert status == 201, template
    url = other_api.base.replace("http://", "ws://") + "/ws"
    # since=0 replays everything of B's from the audit trail: B has nothing, so only "ready".
    socket = await http.ws_connect(url, params={"token": other_api.token, "since": "0"})
    try:
        ready = json.loads((await asyncio.wait_for(socket.receive(), 10)).data)
        assert ready == {"type": "ready", "seq": 0}, ready
        for method, path, body in [
            ("PATCH", f"/api/tasks/{task}", {"title": f"{MARKER} renamed"}),
            ("POST", f"/api/tasks/{task}/complete", None),
            ("POST", f"/api/recurring-tasks/{template['id']}/pause", None),
            ("DELETE", f"/api/tasks/{task}", None),
        ]:
            status, _, _ = await api.call(method, path, json_body=body)
            assert status in (200, 204), (method, path, status)
        with pytest.raises(asyncio.TimeoutError):
            message = await asyncio.wait_for(socket.receive(), 2.0)
            pytest.fail(f"user B's socket got {message.type}: {message.data}")
    finally:
        await socket.close()
