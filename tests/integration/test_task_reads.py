"""What the lean read path answers: the database-built JSON is the task as writes return it, and
conditional GETs answer 304 until something changes."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.integration


async def test_a_task_read_back_is_byte_for_byte_the_task_the_write_returned(api):
    # Due dates with and without fractional seconds, unicode, quotes, an empty tag list and a completion:
    # PostgreSQL writes these rows' JSON on the read path, Python on the write path.
    cases = [
        {"title": "Plain", "due_date": "2026-12-01T10:00:00+01:00"},
        {"title": 'Café "quoted" \\ back\tslash ✓', "description": "line 1\nline 2 — ünïcode",
         "due_date": "2026-12-01T10:00:00.5+00:00", "tags": ["home", "errands"], "priority": "high"},
        {"title": "no due date"},
    ]
    for fields in cases:
        created = await api.create(**fields)
        status, read, headers = await api.call("GET", f"/api/tasks/{created['id']}")
        assert status == 200 and read == created
        assert headers["ETag"] == f'"{created["version"]}"'
        status, page, _ = await api.call("GET", "/api/tasks", params={"limit": 1})
        assert status == 200 and page["tasks"] == [created]
    for action, done in (("complete", True), ("uncomplete", False)):
        _, changed, _ = await api.call("POST", f"/api/tasks/{created['id']}/{action}")
        _, read, _ = await api.call("GET", f"/api/tasks/{created['id']}")
        assert read == changed and read["completed"] is done and (read["completed_at"] is not None) is done


async def test_a_task_answers_304_to_its_own_etag_until_it_changes(api):
    task = await api.create(title="cached")
    status, _, headers = await api.call("GET", f"/api/tasks/{task['id']}")
    etag = headers["ETag"]
    status, body, headers = await api.call("GET", f"/api/tasks/{task['id']}", headers={"If-None-Match": etag})
    assert status == 304 and headers["ETag"] == etag
    status, _, _ = await api.call("GET", f"/api/tasks/{task['id']}", headers={"If-None-Match": f'"x", W/{etag}'})
    assert status == 304, "a list of tags and a weak tag both match"
    await api.call("PATCH", f"/api/tasks/{task['id']}", json_body={"title": "changed"})
    status, body, headers = await api.call("GET", f"/api/tasks/{task['id']}", headers={"If-None-Match": etag})
    assert status == 200 and body["title"] == "changed" and headers["ETag"] != etag


async def test_a_list_answers_304_until_a_task_in_it_changes(api):
    await api.create(title="first")
    _, page, headers = await api.call("GET", "/api/tasks")
    etag = headers["ETag"]
    status, _, _ = await api.call("GET", "/api/tasks", headers={"If-None-Match": etag})
    assert status == 304
    status, _, _ = await api.call("GET", "/api/tasks", params={"limit": 5}, headers={"If-None-Match": etag})
    assert status == 200, "another page shape is another representation"
    await api.create(title="second")
    status, page, headers = await api.call("GET", "/api/tasks", headers={"If-None-Match": etag})
    assert status == 200 and [t["title"] for t in page["tasks"]] == ["second", "first"] and headers["ETag"] != etag


async def test_a_stale_etag_on_another_users_task_is_still_a_404(api, other_api):
    task = await api.create(title="mine")
    _, _, headers = await api.call("GET", f"/api/tasks/{task['id']}")
    status, body, _ = await other_api.call("GET", f"/api/tasks/{task['id']}", headers={"If-None-Match": headers["ETag"]})
    assert status == 404 and body["error"] == "not_found"


async def titles(api, **params) -> list[str]:
    status, body, _ = await api.call("GET", "/api/tasks", params={"limit": "100", **params})
    assert status == 200, body
    return [t["title"] for t in body["tasks"]]


async def test_search_leaves_out_titles_that_merely_share_letters_with_the_words(api):
    for title in ("Renew passport", "Call the dentist", "Quarterly report", "Café with Anna", "call plumber"):
        await api.create(title=title)
    assert await titles(api, search="report") == ["Quarterly report"]
    assert await titles(api, search="café") == ["Café with Anna"]
    assert await titles(api, search="plumbr") == ["call plumber"], "a typo still finds its word"
    assert await titles(api, search="plumbr", sort_by="title") == ["call plumber"]


async def test_a_ranked_search_pages_through_every_match_once_with_their_total(api):
    for i in range(3):
        await api.create(title=f"meeting {i}")
    status, body, _ = await api.call("GET", "/api/tasks", params={"search": "meeting", "limit": "2"})
    assert status == 200 and body["total"] == 3 and body["total_exact"] is True and len(body["tasks"]) == 2
    status, rest, _ = await api.call("GET", "/api/tasks", params={"search": "meeting", "cursor": body["next_cursor"]})
    assert sorted(t["title"] for t in body["tasks"] + rest["tasks"]) == ["meeting 0", "meeting 1", "meeting 2"]
    assert rest["next_cursor"] is None


async def test_concurrent_changes_to_one_task_all_land_with_one_audit_row_each(api):
    """Writes apply to the version they read and read again when another write won: none is lost."""
    task = await api.create(title="busy")
    tags = [f"tag{i}" for i in range(8)]
    results = await asyncio.gather(*(api.call("POST", f"/api/tasks/{task['id']}/tags", json_body={"tags": [tag]})
                                     for tag in tags))
    assert [status for status, _, _ in results] == [200] * len(tags)
    _, final, _ = await api.call("GET", f"/api/tasks/{task['id']}")
    assert sorted(final["tags"]) == tags and final["version"] == 1 + len(tags)
    _, history, _ = await api.call("GET", f"/api/audit/tasks/{task['id']}")
    versions = [(e["before"]["version"], e["after"]["version"]) for e in history["events"] if e["before"]]
    assert sorted(versions) == [(v, v + 1) for v in range(1, 1 + len(tags))]
