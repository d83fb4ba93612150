"""PATCH and PUT /api/views/{id}: a saved view is changed in place, validated as a new one would be."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def saved(api, **body):
    status, view, _ = await api.call("POST", "/api/views", json_body=body)
    assert status == 201, view
    return view


async def test_patch_changes_only_what_it_names_and_null_removes_a_parameter(api):
    view = await saved(api, name="Work", filter="#work", sort_by="due_date", params={"completed": False})
    status, changed, _ = await api.call("PATCH", f"/api/views/{view['id']}",
                                        json_body={"name": " Work, urgent ", "filter": "#work & priority:high",
                                                   "params": {"completed": None, "overdue": True}})
    assert status == 200, changed
    assert changed["id"] == view["id"] and changed["name"] == "Work, urgent"
    assert changed["query"] == {"filter": "#work & priority:high", "sort_by": "due_date", "overdue": "true"}
    _, read, _ = await api.call("GET", f"/api/views/{view['id']}")
    assert read == changed

    status, renamed, _ = await api.call("PATCH", f"/api/views/{view['id']}", json_body={"name": "Only the name"})
    assert status == 200 and renamed["query"] == changed["query"]


async def test_patch_validates_the_result_like_a_create(api):
    view = await saved(api, name="Home", filter="#home")
    url = f"/api/views/{view['id']}"
    for body, field in [({"filter": "#home &"}, "filter"), ({"params": {"limit": "5"}}, "params.limit"),
                        ({"filter": None}, "filter"), ({}, "body"), ({"colour": "red"}, "colour"),
                        ({"name": ""}, "name"), ({"name": None}, "name"), ({"params": []}, "params")]:
        status, error, _ = await api.call("PATCH", url, json_body=body)
        assert status == 400, (body, error)
        assert error["details"]["field"] == field, (body, error)
    _, unchanged, _ = await api.call("GET", url)
    assert unchanged["name"] == "Home" and unchanged["query"] == {"filter": "#home"}


async def test_renaming_onto_another_views_name_is_a_conflict_and_own_name_is_not(api):
    first = await saved(api, name="First", filter="#a")
    await saved(api, name="Second", filter="#b")
    status, error, _ = await api.call("PATCH", f"/api/views/{first['id']}", json_body={"name": "Second"})
    assert status == 409 and error["details"]["field"] == "name", error
    status, same, _ = await api.call("PATCH", f"/api/views/{first['id']}", json_body={"name": "First", "filter": "#c"})
    assert status == 200 and same["query"] == {"filter": "#c"}


async def test_put_replaces_the_whole_view_and_keeps_its_id(api):
    view = await saved(api, name="Old", filter="#old", sort_by="due_date")
    status, replaced, _ = await api.call("PUT", f"/api/views/{view['id']}",
                                         json_body={"name": "New", "params": {"priority": ["high"]}})
    assert status == 200, replaced
    assert (replaced["id"], replaced["name"], replaced["query"]) == (view["id"], "New", {"priority": "high"})
    status, error, _ = await api.call("PUT", f"/api/views/{view['id']}", json_body={"name": "No params"})
    assert status == 400 and error["details"]["field"] == "filter"


async def test_another_users_view_or_an_unknown_id_answers_404(api, other_api):
    view = await saved(api, name="Mine", filter="#mine")
    for method, body in [("PATCH", {"name": "taken"}), ("PUT", {"name": "taken", "filter": "#x"})]:
        status, error, _ = await other_api.call(method, f"/api/views/{view['id']}", json_body=body)
        assert (status, error["error"]) == (404, "not_found")
        status, _, _ = await api.call(method, "/api/views/00000000-0000-0000-0000-000000000000", json_body=body)
        assert status == 404
    _, read, _ = await api.call("GET", f"/api/views/{view['id']}")
    assert read["name"] == "Mine"


async def test_a_value_the_top_level_form_replaces_is_still_validated_and_list_items_hold_one_value(api):
    view = await saved(api, name="Sorted", filter="#a")
    url = f"/api/views/{view['id']}"
    for body, field in [({"sort_order": "asc", "params": {"sort_order": "sideways"}}, "sort_order"),
                        ({"params": {"tags": ["work,home"]}}, "tags"), ({"params": {"search": 5}}, "search"),
                        ({"params": {"filter": [None]}}, "filter"), ({"params": {"overdue": ["yes"]}}, "overdue")]:
        status, error, _ = await api.call("PATCH", url, json_body=body)
        assert (status, error["details"]["field"]) == (400, field), (body, error)
    status, error, _ = await api.call("PUT", url, json_body={"name": "x", "params": {"tags": ["a,b"]}})
    assert (status, error["details"]["field"]) == (400, "tags"), error
