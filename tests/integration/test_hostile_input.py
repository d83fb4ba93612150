"""Hostile input the API fuzzer found: each was a 500 once, each is now a 4xx JSON error naming the field."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_an_offset_past_a_database_integer_is_a_400(api):
    status, error, _ = await api.call("GET", "/api/tasks", params={"offset": "53979178314156859392"})
    assert (status, error["error"], error["details"]["field"]) == (400, "validation_error", "offset")


@pytest.mark.parametrize("path, body, field", [
    ("/api/webhooks", {"url": "https://example.com/\u0000", "events": ["*"]}, "url"),
    ("/api/tasks", {"title": "ok", "tags": ["fine", "nul\u0000"]}, "tags"),
    ("/api/tasks", {"title": "a\u0000b"}, "title"),
])
async def test_a_nul_character_in_a_body_is_a_400_naming_the_field(api, path, body, field):
    status, error, _ = await api.call("POST", path, json_body=body)
    assert (status, error["details"]["field"]) == (400, field), error


async def test_a_lone_surrogate_deep_nesting_or_a_huge_number_in_a_body_is_a_400(api):
    for raw in (b'{"title": "\\ud800"}', b"[" * 100_000 + b"]" * 100_000, b'{"title": ' + b"9" * 5000 + b"}"):
        status, error, _ = await api.call("POST", "/api/tasks", data=raw, headers={"Content-Type": "application/json"})
        assert status == 400 and error["error"] == "validation_error", (raw[:40], error)


async def test_a_nul_character_in_a_query_is_a_400(api):
    status, error, _ = await api.call("GET", "/api/tasks", params={"search": "a\u0000b"})
    assert (status, error["details"]["field"]) == (400, "search")


async def test_a_search_of_punctuation_only_lists_every_task(api):
    task = await api.create(title="anything")
    for search in ('"[', "!!!", '""'):
        status, page, _ = await api.call("GET", "/api/tasks", params={"search": search})
        assert status == 200, page
        assert [t["id"] for t in page["tasks"]] == [task["id"]]


async def test_a_due_date_near_year_1_or_9999_is_a_400_not_a_broken_feed_or_reminder(api):
    for due in ("0001-01-01T00:00:00Z", "0001-06-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"):
        status, error, _ = await api.call("POST", "/api/tasks", json_body={"title": "ancient", "due_date": due})
        assert (status, error["details"]["field"]) == (400, "due_date"), due
    status, _, _ = await api.call("GET", "/api/calendar.ics")
    assert status == 200


async def test_a_recurring_task_before_year_1000_still_renders_in_the_calendar_feed(api):
    status, template, _ = await api.call("POST", "/api/recurring-tasks", json_body={
        "title": "old", "frequency": "daily", "start_date": "0888-09-01T09:00:00Z", "end_date": "0888-09-02"})
    assert status == 201, template
    status, feed, _ = await api.call("GET", "/api/calendar.ics")
    assert status == 200 and "UNTIL=08880902T235959Z" in feed, feed


@pytest.mark.parametrize("url", ["http://[x", "http://127.0.0.1:99999/hook", "http://example.com:port/"])
async def test_a_webhook_url_python_cannot_split_is_a_400(api, url):
    status, error, _ = await api.call("POST", "/api/webhooks", json_body={"url": url, "events": ["*"]})
    assert (status, error["details"]["field"]) == (400, "url"), error
