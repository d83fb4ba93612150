"""The tasks REST API against a real worker, PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest

pytestmark = pytest.mark.integration


async def test_create_normalises_fields_and_answers_201_with_location(api):
    status, task, headers = await api.call("POST", "/api/tasks", json_body={
        "title": "  Buy milk  ", "description": "2 litres", "priority": "high",
        "tags": [" Home", "home", "Errands "], "due_date": "2026-12-01T10:00:00+01:00",
    })
    assert status == 201
    assert headers["Location"] == f"/api/tasks/{task['id']}"
    assert headers["ETag"] == '"1"'
    assert task["title"] == "Buy milk"
    assert task["priority"] == "HIGH"
    assert task["tags"] == ["home", "errands"]
    assert task["due_date"] == "2026-12-01T09:00:00Z"
    assert task["user_id"] == api.user_id
    assert task["completed"] is False and task["completed_at"] is None
    assert task["recurring_task_id"] is None
    assert task["created_at"].endswith("Z") and task["updated_at"].endswith("Z")
    uuid.UUID(task["id"])


async def test_defaults_are_medium_priority_no_tags_no_due_date(api):
    task = await api.create(title="plain")
    assert (task["priority"], task["tags"], task["due_date"], task["description"]) == ("MEDIUM", [], None, None)


async def test_list_is_newest_first_with_total_limit_offset_and_completed_filter(api):
    titles = [f"task {i}" for i in range(5)]
    created = [await api.create(title=t) for t in titles]
    await api.call("POST", f"/api/tasks/{created[1]['id']}/complete")

    status, page, _ = await api.call("GET", "/api/tasks", params={"limit": "2", "offset": "1"})
    assert status == 200
    assert [t["title"] for t in page["tasks"]] == ["task 3", "task 2"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)

    _, done, _ = await api.call("GET", "/api/tasks", params={"completed": "true"})
    assert [t["title"] for t in done["tasks"]] == ["task 1"] and done["total"] == 1
    _, open_, _ = await api.call("GET", "/api/tasks", params={"completed": "false"})
    assert open_["total"] == 4

    _, default, _ = await api.call("GET", "/api/tasks")
    assert default["limit"] == 20 and len(default["tasks"]) == 5


async def test_get_patch_and_delete_a_task(api):
    task = await api.create(title="draft")
    status, fetched, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert status == 200 and fetched == task

    status, patched, headers = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={
        "title": "final", "description": None, "tags": ["x"], "due_date": None, "priority": "low"})
    assert status == 200
    assert (patched["title"], patched["tags"], patched["priority"]) == ("final", ["x"], "LOW")
    assert headers["ETag"] == '"2"'
    assert patched["updated_at"] > task["updated_at"]

    status, body, _ = await api.call("DELETE", f"/api/tasks/{task['id']}")
    assert status == 204 and body == ""
    status, body, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert status == 404 and body["error"] == "not_found"


async def test_complete_and_uncomplete_set_and_clear_completed_at(api):
    task = await api.create()
    status, done, _ = await api.call("POST", f"/api/tasks/{task['id']}/complete")
    assert status == 200 and done["completed"] is True and done["completed_at"].endswith("Z")
    status, again, _ = await api.call("POST", f"/api/tasks/{task['id']}/complete")
    assert status == 200 and again["completed_at"] == done["completed_at"], "completing twice changes nothing"
    status, undone, _ = await api.call("POST", f"/api/tasks/{task['id']}/uncomplete")
    assert status == 200 and undone["completed"] is False and undone["completed_at"] is None


async def test_patch_completed_true_marks_the_task_done(api):
    task = await api.create()
    _, done, _ = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"completed": True})
    assert done["completed"] is True and done["completed_at"] is not None


async def test_priority_and_due_date_routes(api):
    task = await api.create()
    status, body, _ = await api.call("PATCH", f"/api/tasks/{task['id']}/priority", json_body={"priority": "Low"})
    assert status == 200 and body["priority"] == "LOW"
    status, body, _ = await api.call("PATCH", f"/api/tasks/{task['id']}/due-date",
                                     json_body={"due_date": "2027-01-02T03:04:05-05:00"})
    assert status == 200 and body["due_date"] == "2027-01-02T08:04:05Z"
    status, body, _ = await api.call("PATCH", f"/api/tasks/{task['id']}/due-date", json_body={"due_date": None})
    assert status == 200 and body["due_date"] is None
    status, body, _ = await api.call("PATCH", f"/api/tasks/{task['id']}/priority", json_body={"priority": "urgent"})
    assert status == 400 and body["details"]["field"] == "priority"


async def test_adding_tags_deduplicates_and_removing_a_tag(api):
    task = await api.create(tags=["a", "b"])
    status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/tags", json_body={"tags": ["B", " c ", "c"]})
    assert status == 200 and body["tags"] == ["a", "b", "c"]
    status, body, _ = await api.call("DELETE", f"/api/tasks/{task['id']}/tags/b")
    assert status == 200 and body["tags"] == ["a", "c"]
    status, body, _ = await api.call("DELETE", f"/api/tasks/{task['id']}/tags/zzz")
    assert status == 404
    status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/tags",
                                     json_body={"tags": [f"t{i}" for i in range(9)]})
    assert status == 400 and body["details"]["field"] == "tags"
    _, unchanged, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert unchanged["tags"] == ["a", "c"], "a rejected write changes nothing"


async def test_if_match_with_a_stale_version_answers_412_and_changes_nothing(api):
    task = await api.create(title="v1")
    await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": "v2"})
    status, body, _ = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": "mine"},
                                     headers={"If-Match": '"1"'})
    assert status == 412 and body["details"]["current_version"] == 2
    status, body, _ = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": "mine"},
                                     headers={"If-Match": '"2"'})
    assert status == 200 and body["title"] == "mine"
    status, body, _ = await api.call("DELETE", f"/api/tasks/{task['id']}", headers={"If-Match": "2"})
    assert status == 412
    status, body, _ = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": "x"},
                                     headers={"If-Match": "latest"})
    assert status == 400 and body["details"]["field"] == "If-Match"


async def test_concurrent_edits_with_the_same_version_let_exactly_one_win(api):
    task = await api.create()
    results = await asyncio.gather(*(
        api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": f"edit {i}"}, headers={"If-Match": "1"})
        for i in range(5)
    ))
    assert sorted(status for status, _, _ in results) == [200, 412, 412, 412, 412]


INVALID_CREATES = [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 256}, "title"),
    ({"title": 5}, "title"),
    ({"title": "ok", "priority": "urgent"}, "priority"),
    ({"title": "ok", "priority": 1}, "priority"),
    ({"title": "ok", "tags": "home"}, "tags"),
    ({"title": "ok", "tags": [f"t{i}" for i in range(11)]}, "tags"),
    ({"title": "ok", "tags": ["x" * 51]}, "tags"),
    ({"title": "ok", "tags": ["  "]}, "tags"),
    ({"title": "ok", "tags": [3]}, "tags"),
    ({"title": "ok", "due_date": "2026-12-01T10:00:00"}, "due_date"),
    ({"title": "ok", "due_date": "tomorrow"}, "due_date"),
    ({"title": "ok", "due_date": 1700000000}, "due_date"),
    ({"title": "ok", "description": 5}, "description"),
    ({"title": "ok", "owner": "me"}, "owner"),
    ({"title": "ok", "completed": True}, "completed"),
    ([{"title": "ok"}], "body"),
]


@pytest.mark.parametrize(("body", "field"), INVALID_CREATES)
async def test_invalid_create_answers_400_naming_the_field_and_writes_nothing(api, body, field):
    status, error, _ = await api.call("POST", "/api/tasks", json_body=body)
    assert status == 400
    assert set(error) == {"error", "message", "details"}
    assert error["details"]["field"] == field
    assert field in error["message"]
    _, listing, _ = await api.call("GET", "/api/tasks")
    assert listing["total"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"), ({"title": ""}, "title"), ({"completed": "yes"}, "completed"), ({"id": "x"}, "id"),
    ({"version": 3}, "version"),
])
async def test_invalid_patch_answers_400_and_leaves_the_task_alone(api, body, field):
    task = await api.create(title="keep")
    status, error, _ = await api.call("PATCH", f"/api/tasks/{task['id']}", json_body=body)
    assert status == 400 and error["details"]["field"] == field
    _, unchanged, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert unchanged == task


async def test_malformed_json_empty_body_and_oversized_body(api):
    status, body, _ = await api.call("POST", "/api/tasks", data=b'{"title": ', headers={"Content-Type": "application/json"})
    assert status == 400 and body["details"]["field"] == "body" and "JSON" in body["message"]
    status, body, _ = await api.call("POST", "/api/tasks", data=b"")
    assert status == 400 and body["details"]["field"] == "body"
    status, body, _ = await api.call("POST", "/api/tasks", data=b'{"title": "' + b"x" * (1024 * 1024 + 10) + b'"}')
    assert status == 413 and body["error"] == "payload_too_large"


@pytest.mark.parametrize("params,name", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"offset": "-1"}, "offset"), ({"completed": "maybe"}, "completed"), ({"colour": "red"}, "colour"),
])
async def test_bad_list_parameters_answer_400_naming_the_parameter(api, params, name):
    status, body, _ = await api.call("GET", "/api/tasks", params=params)
    assert status == 400 and body["details"]["field"] == name


VALID_BODIES = {
    ("PATCH", ""): {"title": "x"}, ("PATCH", "/priority"): {"priority": "low"},
    ("PATCH", "/due-date"): {"due_date": None}, ("POST", "/tags"): {"tags": ["x"]},
}


@pytest.mark.parametrize("method,suffix", [
    ("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/complete"), ("POST", "/uncomplete"),
    ("PATCH", "/priority"), ("PATCH", "/due-date"), ("POST", "/tags"), ("DELETE", "/tags/x"),
])
async def test_an_id_that_is_not_a_uuid_or_does_not_exist_answers_404(api, method, suffix):
    for ident in ("not-a-uuid", str(uuid.uuid4())):
        status, error, _ = await api.call(
            method, f"/api/tasks/{ident}{suffix}", json_body=VALID_BODIES.get((method, suffix))
        )
        assert status == 404, (ident, error)
        assert error["error"] == "not_found"


async def test_another_users_task_answers_404_exactly_like_a_missing_one(api, other_api):
    task = await api.create(title="private")
    missing = str(uuid.uuid4())
    calls = [
        ("GET", "", None), ("PATCH", "", {"title": "stolen"}), ("DELETE", "", None),
        ("POST", "/complete", None), ("POST", "/uncomplete", None), ("PATCH", "/priority", {"priority": "low"}),
        ("PATCH", "/due-date", {"due_date": None}), ("POST", "/tags", {"tags": ["x"]}), ("DELETE", "/tags/x", None),
    ]
    for method, suffix, body in calls:
        theirs = await other_api.call(method, f"/api/tasks/{task['id']}{suffix}", json_body=body)
        nobodys = await other_api.call(method, f"/api/tasks/{missing}{suffix}", json_body=body)
        assert theirs[0] == nobodys[0] == 404
        assert theirs[1]["error"] == nobodys[1]["error"]
        assert theirs[1]["message"].replace(task["id"], "ID") == nobodys[1]["message"].replace(missing, "ID")
    status, audit, _ = await other_api.call("GET", f"/api/audit/tasks/{task['id']}")
    assert status == 404
    _, listing, _ = await other_api.call("GET", "/api/tasks")
    assert listing["total"] == 0
    _, mine, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert mine == task, "nothing the other user tried changed the task"


async def test_unknown_route_and_wrong_method_answer_json_errors(api):
    status, body, _ = await api.call("GET", "/api/nothing-here")
    assert status == 404 and body["error"] == "not_found"
    status, body, headers = await api.call("PUT", "/api/tasks")
    assert status == 405 and body["error"] == "method_not_allowed"


async def test_request_id_is_returned_and_generated_when_missing(api):
    _, _, headers = await api.call("GET", "/api/tasks", headers={"X-Request-ID": "trace-123"})
    assert headers["X-Request-ID"] == "trace-123"
    _, _, headers = await api.call("GET", "/api/tasks")
    assert len(headers["X-Request-ID"]) >= 16
    assert headers["X-Content-Type-Options"] == "nosniff"


async def test_health_and_ready_answer_without_a_token(api):
    status, body, _ = await api.call("GET", "/health", auth=False)
    assert status == 200 and body["status"] == "ok"
    status, body, _ = await api.call("GET", "/ready", auth=False)
    assert status == 200 and body["checks"] == {"kafka": "ok", "database": "ok"}
