"""Without TASKSTREAM_TIMEZONE the MCP tools read dates in the time zone of the user's settings (GET /api/settings)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.cli.mcp.server import ApiFailure, TaskTools

NOW = datetime(2030, 5, 30, 12, tzinfo=UTC)


class RecordingApi:
    """Answers like the REST API would for the two routes these tests use, and records the calls."""

    def __init__(self, settings: Any) -> None:
        self.settings, self.calls = settings, []

    async def request(self, method: str, path: str, *, body: Any = None, params: Any = None) -> Any:
        self.calls.append((method, path, body, params))
        if path == "/api/settings":
            if isinstance(self.settings, Exception):
                raise self.settings
            return self.settings
        return {"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "title": body["title"], "due_date": body["due_date"]}


async def add(api: RecordingApi) -> dict[str, Any]:
    tools = TaskTools(api, default_timezone=None, clock=lambda: NOW)
    result = await tools.call("add_task", {"title": "call", "due_date": "2030-06-01 09:00"})
    assert not result.is_error, result.content
    return next(body for method, path, body, _ in api.calls if method == "POST")


async def test_the_settings_zone_reads_natural_dates_and_is_asked_once():
    api = RecordingApi({"time_zone": "Asia/Tokyo", "updated_at": None})
    assert datetime.fromisoformat((await add(api))["due_date"]) == datetime(2030, 6, 1, 0, tzinfo=UTC)
    assert [c[1] for c in api.calls].count("/api/settings") == 1


async def test_a_server_without_settings_leaves_dates_in_utc():
    api = RecordingApi(ApiFailure(404, {"error": "not_found"}, "GET", "/api/settings"))
    assert datetime.fromisoformat((await add(api))["due_date"]) == datetime(2030, 6, 1, 9, tzinfo=UTC)
