"""What the dashboard's browser tests share: opening a signed-in page, finding rows, asking what the server offers."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

TIMEOUT_MS = 20_000
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def expect(target: Any):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def local_input(days: float) -> str:
    """A datetime-local value `days` from now (the browser contexts run in UTC)."""
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def open_page(browser, base: str, token: str | None, console, *, viewport=DESKTOP, color_scheme="light",
              expected: tuple[str, ...] = (), before=None, timezone_id: str = "UTC", permissions=()):
    context = browser.new_context(viewport=viewport, color_scheme=color_scheme, timezone_id=timezone_id,
                                  locale="en-US", permissions=list(permissions))
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    console.watch(page, expected=expected)
    if before is not None:
        before(page)
    page.goto(base + "/")
    page.wait_for_selector("html[data-ready]")
    if token is not None:
        sign_in(page, token)
    return page


def sign_in(page, token: str) -> None:
    page.fill("#token-input", token)
    page.press("#token-input", "Enter")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)


def row(page, title: str):
    exact = page.locator(".task-title", has_text=re.compile(f"^{re.escape(title)}$"))
    return page.locator("#task-list > li", has=exact)


def titles(page):
    return page.locator("#task-list .task-title")


def openapi(worker) -> dict[str, Any]:
    with urllib.request.urlopen(f"{worker.url}/openapi.json", timeout=10) as response:
        return json.load(response)


def documented(worker, path: str) -> bool:
    return path in openapi(worker)["paths"]


def has_route(user, path: str) -> bool:
    """Whether the server serves `path`: only a 404 says no; any other error (401, 429, 500) fails the test."""
    try:
        user.call("GET", path)
    except AssertionError as exc:
        if f"GET {path} answered 404:" in str(exc):
            return False
        raise
    return True


def status_of(user, method: str, path: str, body: Any = None) -> int:
    """The status `method path` answers (2xx included), without failing on errors: to ask whether a route exists."""
    request = urllib.request.Request(
        user.base + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {user.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def documenting(worker, extra: dict[str, tuple[str, ...]], *, only_tasks: bool = False, without: tuple[str, ...] = ()):
    """Serve the page an OpenAPI document with `extra` paths added (routes the server serves but does not
    document yet), without the paths in `without`, or with only the task routes: the dashboard shows
    what the document lists."""

    def patch(route) -> None:
        response = route.fetch()
        document = response.json()
        for path in without:
            document["paths"].pop(path, None)
        if only_tasks:
            document["paths"] = {p: v for p, v in document["paths"].items() if p.startswith("/api/tasks")
                                 and "reminders" not in p}
        for path, methods in extra.items():
            document["paths"].setdefault(path, {method: {"responses": {}} for method in methods})
        route.fulfill(response=response, json=document)

    return lambda page: page.route("**/openapi.json", patch)
