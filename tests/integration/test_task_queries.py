"""Finding tasks: filters, sort orders, full-text search, the filter language, cursors and saved views."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


async def titles(api, **params) -> list[str]:
    status, body, _ = await api.call("GET", "/api/tasks", params={k: str(v) for k, v in params.items()})
    assert status == 200, body
    return [t["title"] for t in body["tasks"]]


@pytest.fixture
async def board(api):
    """A small, varied task list for one user."""
    specs = [
        ("pay rent", dict(priority="high", tags=["home", "finance"], due_date=iso(NOW - timedelta(days=2)))),
        ("team meeting notes", dict(priority="medium", tags=["work"], due_date=iso(NOW + timedelta(days=3)))),
        ("buy groceries", dict(priority="low", tags=["errands", "home"])),
        ("quarterly report draft", dict(priority="high", tags=["work"], due_date=iso(NOW + timedelta(days=20)),
                                        description="numbers for the quarterly report")),
        ("call plumber", dict(priority="medium", tags=["home"], due_date=iso(NOW - timedelta(days=1)))),
    ]
    created = {}
    for title, fields in specs:
        created[title] = await api.create(title=title, **fields)
    await api.call("POST", f"/api/tasks/{created['call plumber']['id']}/complete")
    return created


async def test_each_filter_alone(api, board):
    assert set(await titles(api, priority="HIGH")) == {"pay rent", "quarterly report draft"}
    assert set(await titles(api, priority="low,medium")) == {"team meeting notes", "buy groceries", "call plumber"}
    assert set(await titles(api, tags="home")) == {"pay rent", "buy groceries", "call plumber"}
    assert set(await titles(api, tags="home,finance")) == {"pay rent"}
    assert set(await titles(api, tags="finance,errands", tags_mode="any")) == {"pay rent", "buy groceries"}
    assert set(await titles(api, completed="true")) == {"call plumber"}
    assert set(await titles(api, overdue="true")) == {"pay rent"}
    assert "pay rent" not in await titles(api, overdue="false")
    assert set(await titles(api, has_due_date="false")) == {"buy groceries"}
    assert set(await titles(api, due_before=iso(NOW))) == {"pay rent", "call plumber"}
    assert set(await titles(api, due_after=iso(NOW + timedelta(days=10)))) == {"quarterly report draft"}
    assert set(await titles(api, recurring="true")) == set()
    assert len(await titles(api, created_after=iso(NOW - timedelta(minutes=5)))) == 5
    assert await titles(api, created_before=iso(NOW - timedelta(minutes=5))) == []


async def test_filters_combine(api, board):
    assert await titles(api, priority="high", tags="work", due_after=iso(NOW)) == ["quarterly report draft"]
    assert await titles(api, tags="home", completed="false", sort_by="title") == ["buy groceries", "pay rent"]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_due_date_sort_puts_tasks_without_a_due_date_last_in_both_orders(api, board, order):
    result = await titles(api, sort_by="due_date", sort_order=order)
    assert result[-1] == "buy groceries"
    dated = ["pay rent", "call plumber", "team meeting notes", "quarterly report draft"]
    assert result[:-1] == (dated if order == "asc" else dated[::-1])


async def test_every_sort_key_orders_the_list(api, board):
    assert await titles(api, sort_by="title") == sorted(board)
    assert await titles(api, sort_by="title", sort_order="desc") == sorted(board, reverse=True)
    by_priority = await titles(api, sort_by="priority", sort_order="desc")
    assert set(by_priority[:2]) == {"pay rent", "quarterly report draft"} and by_priority[-1] == "buy groceries"
    assert await titles(api, sort_by="created_at", sort_order="asc") == list(board)
    assert (await titles(api, sort_by="updated_at", sort_order="desc"))[0] == "call plumber"
    assert (await titles(api, sort_by="completed_at"))[0] == "call plumber"
    assert (await titles(api, sort_by="completed_at", sort_order="desc"))[0] == "call plumber"


async def test_search_finds_stems_prefixes_phrases_and_misspellings(api, board):
    assert await titles(api, search="meetings") == ["team meeting notes"], "stems"
    assert await titles(api, search="meet") == ["team meeting notes"], "prefix while typing"
    assert await titles(api, search='"quarterly report"') == ["quarterly report draft"], "phrase"
    assert await titles(api, search='"report quarterly"') == [], "a phrase keeps its word order"
    assert await titles(api, search="plumbr") == ["call plumber"], "a misspelt word"
    assert await titles(api, search="groceries") == ["buy groceries"]
    assert await titles(api, search="numbers") == ["quarterly report draft"], "descriptions are searched"


async def test_search_orders_by_relevance_unless_a_sort_is_given(api):
    await api.create(title="report", description="")
    await api.create(title="notes", description="mentions a report once")
    await api.create(title="report on the report", description="report report")
    ranked = await titles(api, search="report")
    assert ranked[0] == "report on the report" and ranked[-1] == "notes"
    assert await titles(api, search="report", sort_by="title") == ["notes", "report", "report on the report"]


async def test_filter_language(api, board):
    assert await titles(api, filter="priority:high & #work & due<30d & !done") == ["quarterly report draft"]
    assert set(await titles(api, filter="(#finance | #errands) & !done")) == {"pay rent", "buy groceries"}
    assert await titles(api, filter="overdue") == ["pay rent"]
    assert await titles(api, filter='"quarterly report" & created>2020-01-01') == ["quarterly report draft"]
    assert set(await titles(api, filter="done | due:none")) == {"call plumber", "buy groceries"}
    assert await titles(api, filter="#home & !#finance & !done") == ["buy groceries"]


@pytest.mark.parametrize("expression,position", [("priority:high &", 15), ("(#home", 6), ("due<someday", 4),
                                                 ("colour:red", 0)])
async def test_a_filter_syntax_error_is_a_400_pointing_at_the_position(api, expression, position):
    status, body, _ = await api.call("GET", "/api/tasks", params={"filter": expression})
    assert status == 400
    assert body["details"]["field"] == "filter" and body["details"]["position"] == position
    assert f"position {position}" in body["message"]


@pytest.mark.parametrize("attack", ["#x'); DROP TABLE tasks;--", "text:\"a' OR '1'='1\"", "\"'; DELETE FROM tasks; --\"",
                                    "x' OR 1=1 --"])
async def test_injection_attempts_find_nothing_and_break_nothing(api, board, attack):
    for params in ({"filter": attack}, {"search": attack}):
        status, body, _ = await api.call("GET", "/api/tasks", params=params)
        assert status in (200, 400), body
        if status == 200:
            assert body["tasks"] == []
    assert len(await titles(api)) == 5


@pytest.mark.parametrize("params,name", [
    ({"priority": "urgent"}, "priority"), ({"tags_mode": "some"}, "tags_mode"), ({"due_before": "soon"}, "due_before"),
    ({"due_after": "2026-13-01"}, "due_after"), ({"overdue": "maybe"}, "overdue"), ({"sort_by": "colour"}, "sort_by"),
    ({"sort_order": "up"}, "sort_order"), ({"tz": "Mars/Olympus"}, "tz"), ({"cursor": "???"}, "cursor"),
    ({"search": "x" * 201}, "search"), ({"created_after": "yesterday"}, "created_after"),
    ({"recurring": "2"}, "recurring"), ({"has_due_date": "perhaps"}, "has_due_date"), ({"view": "nope"}, "view"),
])
async def test_a_bad_value_in_any_parameter_is_a_400_naming_it(api, params, name):
    status, body, _ = await api.call("GET", "/api/tasks", params=params)
    assert status == 400 and body["details"]["field"] == name, body


async def walk(api, **params) -> list[str]:
    seen, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        status, body, _ = await api.call("GET", "/api/tasks", params=query)
        assert status == 200, body
        seen += [t["id"] for t in body["tasks"]]
        cursor = body["next_cursor"]
        if not cursor:
            return seen


@pytest.mark.parametrize("sort", [{}, {"sort_by": "due_date"}, {"sort_by": "due_date", "sort_order": "desc"},
                                  {"sort_by": "priority"}, {"sort_by": "title", "sort_order": "desc"},
                                  {"sort_by": "completed_at"}, {"search": "task"}])
async def test_cursor_pages_return_every_task_exactly_once_while_others_are_inserted(api, sort):
    base = NOW + timedelta(days=1)
    original = []
    for i in range(23):
        fields = {"priority": ["low", "medium", "high"][i % 3]}
        if i % 4:
            fields["due_date"] = iso(base + timedelta(hours=i % 5))  # ties on purpose
        original.append((await api.create(title=f"task {i % 7}", **fields))["id"])
    for task_id in original[::5]:
        await api.call("POST", f"/api/tasks/{task_id}/complete")

    seen, cursor, inserted = [], None, 0
    while True:
        query = {"limit": "4", **sort, **({"cursor": cursor} if cursor else {})}
        status, body, _ = await api.call("GET", "/api/tasks", params=query)
        assert status == 200, body
        seen += [t["id"] for t in body["tasks"]]
        cursor = body["next_cursor"]
        await api.create(title=f"task inserted {inserted}", due_date=iso(base))  # lands anywhere in the order
        inserted += 1
        if not cursor:
            break
    assert len(seen) == len(set(seen)), "no task twice"
    assert set(original) <= set(seen), "no original task skipped"


async def test_offset_pagination_and_cursor_cannot_be_mixed(api):
    for i in range(3):
        await api.create(title=f"t{i}")
    _, first, _ = await api.call("GET", "/api/tasks", params={"limit": "2"})
    status, body, _ = await api.call("GET", "/api/tasks", params={"cursor": first["next_cursor"], "offset": "2"})
    assert status == 400 and body["details"]["field"] == "cursor"
    status, body, _ = await api.call("GET", "/api/tasks", params={"cursor": first["next_cursor"], "sort_by": "title"})
    assert status == 400 and "sort" in body["message"]


async def test_no_query_leaks_another_users_tasks(api, other_api, board):
    await other_api.create(title="pay rent", priority="high", tags=["home", "finance"])
    for params in ({}, {"search": "rent"}, {"filter": "#finance"}, {"tags": "home"}, {"priority": "high"},
                   {"sort_by": "due_date"}):
        status, body, _ = await other_api.call("GET", "/api/tasks", params=params)
        assert status == 200
        assert [t["user_id"] for t in body["tasks"]] == [other_api.user_id] * body["total"]
        assert body["total"] <= 1


async def test_saved_views_store_a_named_filter_and_sort(api, other_api, board):
    status, view, headers = await api.call("POST", "/api/views", json_body={
        "name": "Urgent work", "filter": "#work & priority:high", "sort_by": "due_date",
        "params": {"completed": False}})
    assert status == 201 and view["query"] == {"completed": "false", "filter": "#work & priority:high",
                                                "sort_by": "due_date"}
    assert await titles(api, view=view["id"]) == ["quarterly report draft"]
    assert await titles(api, view=view["id"], filter="#home") == ["pay rent", "buy groceries"], (
        "request parameters override the view's, the rest of the view still applies")
    _, listing, _ = await api.call("GET", "/api/views")
    assert [v["name"] for v in listing["views"]] == ["Urgent work"]

    status, body, _ = await api.call("POST", "/api/views", json_body={"name": "Urgent work", "filter": "done"})
    assert status == 409
    status, body, _ = await api.call("POST", "/api/views", json_body={"name": "Broken", "filter": "#home &"})
    assert status == 400 and body["details"]["field"] == "filter"
    status, body, _ = await api.call("POST", "/api/views", json_body={"name": "x", "params": {"limit": "5"}})
    assert status == 400

    status, _, _ = await other_api.call("GET", f"/api/views/{view['id']}")
    assert status == 404
    status, body, _ = await other_api.call("GET", "/api/tasks", params={"view": view["id"]})
    assert status == 400 and body["details"]["field"] == "view"
    status, _, _ = await other_api.call("DELETE", f"/api/views/{view['id']}")
    assert status == 404
    status, _, _ = await api.call("DELETE", f"/api/views/{view['id']}")
    assert status == 204
    _, listing, _ = await api.call("GET", "/api/views")
    assert listing["views"] == []


async def test_search_while_tasks_change_concurrently_never_fails(api):
    await asyncio.gather(*(api.create(title=f"concurrent meeting {i}") for i in range(10)))
    results = await asyncio.gather(*(api.call("GET", "/api/tasks", params={"search": "meeting"}) for _ in range(5)))
    assert all(status == 200 and body["total"] == 10 for status, body, _ in results)


async def test_totals_stay_exact_through_creates_completions_and_deletes(api):
    tasks = [await api.create(title=f"count {i}") for i in range(4)]
    await api.call("POST", f"/api/tasks/{tasks[0]['id']}/complete")
    await api.call("DELETE", f"/api/tasks/{tasks[1]['id']}")
    await api.call("PATCH", f"/api/tasks/{tasks[2]['id']}", json_body={"completed": True})
    await api.call("POST", f"/api/tasks/{tasks[2]['id']}/uncomplete")
    _, everything, _ = await api.call("GET", "/api/tasks")
    _, done, _ = await api.call("GET", "/api/tasks", params={"completed": "true"})
    _, open_, _ = await api.call("GET", "/api/tasks", params={"completed": "false"})
    assert (everything["total"], done["total"], open_["total"]) == (3, 1, 2)
    assert everything["total_exact"] and done["total_exact"] and open_["total_exact"]


async def test_a_filtered_total_past_the_cap_says_it_is_not_exact(api, postgres):
    import asyncpg

    from db.listing import COUNT_CAP

    conn = await asyncpg.connect(postgres.replace("postgresql+asyncpg://", "postgresql://"))
    try:  # bulk rows straight into the table (the triggers keep the counts)
        await conn.execute(
            "INSERT INTO tasks (id, user_id, title, tags) SELECT gen_random_uuid(), $1, 'bulk ' || i, '{bulk}' "
            "FROM generate_series(1, $2) AS i", api.user_id, COUNT_CAP + 5)
    finally:
        await conn.close()
    _, filtered, _ = await api.call("GET", "/api/tasks", params={"tags": "bulk"})
    assert (filtered["total"], filtered["total_exact"]) == (COUNT_CAP, False)
    _, everything, _ = await api.call("GET", "/api/tasks")
    assert (everything["total"], everything["total_exact"]) == (COUNT_CAP + 5, True)
