"""The dashboard for daily use, in a real Chromium against a real worker: quick add, the due-date groups,
saved views, a task's history, the settings page, keyboard shortcuts and dark mode.

Routes other branches add (quick add, /api/settings, PATCH /api/views/{id}) are probed first: where this
server lacks them, their tests skip and say so."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest
from dashboard_support import (
    PHONE, documenting, expect, in_days, open_page, row, status_of, titles,
)

pytestmark = pytest.mark.e2e

QUICK_ADD = "/api/tasks/quick-add"
#: Console lines a test provokes on purpose (Chromium logs every HTTP error answer).
STATUS_400 = ("status of 400",)
STATUS_404 = ("status of 404",)
STATUS_409 = ("status of 409",)


# What this server offers ----------------------------------------------------------------------


def require_quick_add(user) -> None:
    status = status_of(user, "POST", f"{QUICK_ADD}?dry_run=true", {"text": "probe"})
    if status in (404, 405):
        pytest.skip(f"POST {QUICK_ADD} answers {status} on this server (it comes with the quick-add branch)")


def require_settings(user) -> None:
    status = status_of(user, "GET", "/api/settings")
    if status in (404, 405):
        pytest.skip(f"GET /api/settings answers {status} on this server (it comes with the time-zone branch)")


def require_view_patch(user, view_id: str) -> None:
    status = status_of(user, "PATCH", f"/api/views/{view_id}", {"name": "probe"})
    if status in (404, 405):
        pytest.skip(f"PATCH /api/views/{{id}} answers {status} on this server (it comes with another branch)")


def zone_at_hour(hour: int) -> str:
    """An Etc/GMT zone where the wall clock now shows `hour` o'clock (give or take the minutes), so that
    "today" there is hours away from either midnight whenever the test runs."""
    offset = (hour - datetime.now(UTC).hour + 12) % 24 - 12  # -12 … +11 hours from UTC
    # Etc/GMT names count the other way round: Etc/GMT-3 is UTC+3.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def use_zone(user, zone: str) -> None:
    """Make `zone` the user's: stored on the server when it keeps one, else the browser context's alone."""
    if status_of(user, "GET", "/api/settings") not in (404, 405):
        user.call("PUT", "/api/settings", {"time_zone": zone})


# Quick add ------------------------------------------------------------------------------------


def test_quick_add_previews_what_the_server_understood_and_enter_creates_it(browser, worker, user, console,
                                                                           artifacts):
    require_quick_add(user)
    text = "Pay the electricity bill tomorrow"
    expected = user.call("POST", f"{QUICK_ADD}?dry_run=true", {"text": text})
    assert user.call("GET", "/api/tasks")["total"] == 0, "a dry run creates nothing"
    asked: list[str] = []

    def on_request(request) -> None:
        if QUICK_ADD in request.url:
            asked.append(request.url)

    page = open_page(browser, worker.url, user.token, console, expected=STATUS_400,
                     before=lambda p: p.on("request", on_request))
    box = page.locator("#quick-add")
    preview = page.locator("#quick-add-preview")
    expect(preview).to_be_hidden()
    box.press_sequentially(text, delay=20)  # faster than the 200 ms pause: one preview at the end
    expect(preview).to_have_text(expected["summary"])
    expect(preview).not_to_have_class(re.compile(r"\berror\b"))
    assert all("dry_run=true" in url for url in asked), asked
    assert len(asked) <= 3, f"previews are debounced, yet {len(asked)} were asked for while typing"
    page.screenshot(path=str(artifacts / "quick-add-preview.png"))

    # A 400 shows the server's message in place of the summary.
    def refuse(route) -> None:
        if json.loads(route.request.post_data or "{}").get("text") == "every":
            route.fulfill(status=400, json={"error": "validation_error", "message": "“every” what? Say how often.",
                                            "details": {"field": "text"}})
        else:
            route.continue_()

    page.route(re.compile(rf".*{re.escape(QUICK_ADD)}\?dry_run=true$"), refuse)
    box.fill("every")
    expect(preview).to_have_text("“every” what? Say how often.")
    expect(preview).to_have_class(re.compile(r"\berror\b"))
    expect(box).to_have_attribute("aria-invalid", "true")
    box.fill("")
    expect(preview).to_be_hidden()

    box.fill(text)
    expect(preview).to_have_text(expected["summary"])
    with page.expect_response(lambda r: QUICK_ADD in r.url and "dry_run" not in r.url) as answer:
        box.press("Enter")
    assert answer.value.status == 201
    created = answer.value.json()
    expect(box).to_have_value("")
    expect(preview).to_be_hidden()
    expect(page.locator("#toasts .toast").last).to_contain_text(created["summary"])
    tasks = user.call("GET", "/api/tasks")["tasks"]
    assert [t["id"] for t in tasks] == [created["task"]["id"]]
    expect(row(page, tasks[0]["title"])).to_have_count(1)
    assert console.errors == []


def test_quick_add_creates_a_plain_task_when_the_server_has_no_quick_add(browser, worker, user, console):
    """An older server: the route is not in its OpenAPI document, so there is no preview and Enter
    creates a task titled with the text as typed."""
    asked: list[str] = []
    page = open_page(browser, worker.url, user.token, console,
                     before=lambda p: (documenting(worker, {}, without=(QUICK_ADD,))(p),
                                       p.on("request", lambda r: asked.append(r.url) if QUICK_ADD in r.url else None)))
    page.locator("#quick-add").press_sequentially("Water the plants tomorrow", delay=10)
    page.wait_for_timeout(600)  # three debounce periods: no preview comes
    expect(page.locator("#quick-add-preview")).to_be_hidden()
    page.press("#quick-add", "Enter")
    expect(row(page, "Water the plants tomorrow")).to_have_count(1)
    expect(page.locator("#quick-add")).to_have_value("")
    assert [t["title"] for t in user.call("GET", "/api/tasks")["tasks"]] == ["Water the plants tomorrow"]
    assert asked == []
    assert console.errors == []


def test_quick_add_falls_back_when_the_route_answers_404(browser, worker, user, console):
    """A server that documents the route but answers 404 (mid-upgrade): the preview hides, Enter still creates."""

    def gone(route) -> None:
        route.fulfill(status=404, json={"error": "not_found", "message": "no such route", "details": {}})

    page = open_page(browser, worker.url, user.token, console, expected=STATUS_404,
                     before=lambda p: (documenting(worker, {QUICK_ADD: ("post",)})(p),
                                       p.route(f"**{QUICK_ADD}**", gone)))
    page.locator("#quick-add").press_sequentially("Renew the library card", delay=10)
    page.wait_for_timeout(600)
    expect(page.locator("#quick-add-preview")).to_be_hidden()
    page.press("#quick-add", "Enter")
    expect(row(page, "Renew the library card")).to_have_count(1)
    assert [t["title"] for t in user.call("GET", "/api/tasks")["tasks"]] == ["Renew the library card"]
    assert console.errors == []


# The default view: due-date groups ------------------------------------------------------------


def test_the_default_view_groups_tasks_into_overdue_today_upcoming_and_no_date(browser, worker, user, console,
                                                                              artifacts):
    zone = zone_at_hour(12)  # midday there: "today" has hours on either side
    use_zone(user, zone)
    now = datetime.now(UTC)
    user.create(title="Send the invoice", due_date=(now - timedelta(days=2)).isoformat())
    user.create(title="Morning run", due_date=(now - timedelta(hours=1)).isoformat())
    user.create(title="Stand-up notes", due_date=(now + timedelta(hours=2)).isoformat())
    user.create(title="Book the dentist", due_date=(now + timedelta(days=3)).isoformat())
    user.create(title="Learn the cello")
    done = user.create(title="Filed taxes", due_date=(now - timedelta(days=5)).isoformat())
    user.call("POST", f"/api/tasks/{done['id']}/complete")

    page = open_page(browser, worker.url, user.token, console, timezone_id=zone)
    headings = page.locator("#task-list > li.group-head h2")
    expect(headings).to_have_text([re.compile(r"^Overdue · 2"), re.compile(r"^Today · 1"),
                                   re.compile(r"^Upcoming · 1"), re.compile(r"^No date · 1")])
    expect(titles(page)).to_have_text(["Send the invoice", "Morning run", "Stand-up notes", "Book the dentist",
                                       "Learn the cello"])
    expect(row(page, "Morning run")).to_have_attribute("data-group", "overdue")
    expect(row(page, "Stand-up notes")).to_have_attribute("data-group", "today")
    page.screenshot(path=str(artifacts / "groups.png"), full_page=True)

    # Done tasks whose day has passed come last, under their own heading.
    page.select_option("#status", "all")
    expect(headings.last).to_have_text(re.compile(r"^Done earlier · 1"))
    expect(row(page, "Filed taxes")).to_have_attribute("data-group", "past")

    # A task created elsewhere lands in its group live; completing one moves it out of Overdue.
    page.select_option("#status", "open")
    user.create(title="Call the bank", due_date=(now + timedelta(hours=1)).isoformat())
    expect(row(page, "Call the bank")).to_have_attribute("data-group", "today")
    expect(page.locator("#task-list > li[data-group=today] .task-title")).to_have_text(["Call the bank",
                                                                                         "Stand-up notes"])
    row(page, "Morning run").get_by_role("checkbox").click()
    expect(headings.first).to_have_text(re.compile(r"^Overdue · 1"))

    # An explicit sort shows one flat list in that order.
    page.get_by_role("button", name="Filters").click()
    page.select_option("#sort-by", "title")
    page.select_option("#sort-order", "asc")
    expect(headings).to_have_count(0)
    expect(titles(page)).to_have_text(["Book the dentist", "Call the bank", "Learn the cello", "Send the invoice",
                                       "Stand-up notes"])
    assert console.errors == []


def test_an_all_day_task_counts_by_its_day_not_by_an_instant(browser, worker, user, console):
    zone = zone_at_hour(23)  # late evening: an instant at midnight UTC would already be "yesterday" or "tomorrow"
    use_zone(user, zone)
    local_today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
    status = status_of(user, "POST", "/api/tasks", {"title": "probe", "due_date": local_today.isoformat(),
                                                    "all_day": True})
    if status >= 400:
        pytest.skip(f"POST /api/tasks with all_day answers {status} here (all-day tasks come with another branch)")
    probe = next(t for t in user.call("GET", "/api/tasks")["tasks"] if t["title"] == "probe")
    user.call("DELETE", f"/api/tasks/{probe['id']}")
    if probe.get("all_day") is not True:
        pytest.skip("this server keeps no all_day flag on tasks (all-day tasks come with another branch)")

    user.create(title="Mum's birthday", due_date=local_today.isoformat(), all_day=True)
    user.create(title="Bins out", due_date=(local_today - timedelta(days=1)).isoformat(), all_day=True)
    page = open_page(browser, worker.url, user.token, console, timezone_id=zone)
    birthday = row(page, "Mum's birthday")
    expect(birthday).to_have_attribute("data-group", "today")  # due today, all day: not overdue yet
    expect(birthday.locator(".due")).to_contain_text("Due today")
    expect(birthday.locator(".due")).to_contain_text("all day")
    expect(row(page, "Bins out")).to_have_attribute("data-group", "overdue")
    assert console.errors == []


# Saved views ----------------------------------------------------------------------------------


def test_saved_views_are_listed_applied_saved_and_deleted_from_the_sidebar(browser, worker, user, console,
                                                                          artifacts):
    user.create(title="Fix the roof", priority="high", tags=["home"])
    user.create(title="Tax return", priority="high", tags=["admin"], due_date=in_days(4))
    user.create(title="Sort photos", priority="low", tags=["home"])
    user.call("POST", "/api/views", {"name": "Home", "params": {"tags": "home", "completed": "false"}})
    listed: list[str] = []
    page = open_page(browser, worker.url, user.token, console, expected=STATUS_409,
                     before=lambda p: p.on("request", lambda r: listed.append(r.url)
                                           if "/api/tasks?" in r.url else None))
    sidebar = page.locator("#views-sidebar")
    expect(sidebar.get_by_role("button", name="Home", exact=True)).to_be_visible()
    expect(titles(page)).to_have_count(3)

    # Apply: the server filters by the view's id.
    sidebar.get_by_role("button", name="Home", exact=True).click()
    expect(page.locator("#view-banner")).to_contain_text("Saved view: Home")
    expect(titles(page)).to_have_count(2)
    assert sorted(titles(page).all_inner_texts()) == ["Fix the roof", "Sort photos"]
    assert any("view=" in url for url in listed), listed
    expect(page.locator("#filters")).to_be_hidden()

    # Back to the overview, set filters and keep them as a new view.
    sidebar.get_by_role("button", name="Overview").click()
    expect(titles(page)).to_have_count(3)
    page.get_by_role("button", name="Filters").click()
    page.locator("label.chip", has_text="High").click()
    expect(titles(page)).to_have_count(2)
    sidebar.get_by_role("button", name="New view…").click()
    dialog = page.locator("#view-dialog")
    expect(dialog.locator("#view-query")).to_contain_text("priority=HIGH")
    page.fill("#view-name", "Urgent")
    page.press("#view-name", "Enter")
    expect(dialog).to_be_hidden()
    urgent = sidebar.get_by_role("button", name="Urgent", exact=True)
    expect(urgent).to_have_attribute("aria-current", "page")
    expect(page.locator("#view-banner")).to_contain_text("Urgent")
    stored = {v["name"]: v for v in user.call("GET", "/api/views")["views"]}
    assert stored["Urgent"]["query"]["priority"] == "HIGH"
    assert "sort_by" not in stored["Urgent"]["query"], "the grouped default is not a sort the user chose"
    page.screenshot(path=str(artifacts / "saved-views.png"), full_page=True)

    # A name taken already: the server's message, the dialog stays open.
    sidebar.get_by_role("button", name="Overview").click()
    sidebar.get_by_role("button", name="New view…").click()
    page.fill("#view-name", "Home")
    page.press("#view-name", "Enter")
    expect(page.locator("#view-form-error")).to_contain_text("already have a view named")
    page.keyboard.press("Escape")

    # Delete.
    sidebar.get_by_role("button", name="Delete view “Urgent”").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(urgent).to_have_count(0)
    assert sorted(v["name"] for v in user.call("GET", "/api/views")["views"]) == ["Home"]
    assert console.errors == []


def test_a_saved_view_can_be_renamed_and_given_the_current_filters(browser, worker, user, console):
    view = user.call("POST", "/api/views", {"name": "Work", "params": {"tags": "work"}})
    require_view_patch(user, view["id"])
    user.call("PATCH", f"/api/views/{view['id']}", {"name": "Work"})  # undo the probe's rename
    user.create(title="Quarterly plan", priority="high", tags=["work"])
    user.create(title="Expense report", priority="low", tags=["work"])
    page = open_page(browser, worker.url, user.token, console)
    sidebar = page.locator("#views-sidebar")
    page.get_by_role("button", name="Filters").click()
    page.locator("label.chip", has_text="Low").click()
    sidebar.get_by_role("button", name="Edit view “Work”").click()
    expect(page.locator("#view-name")).to_have_value("Work")
    page.fill("#view-name", "Work, small stuff")
    page.locator("#view-replace-row").click()
    page.press("#view-name", "Enter")
    expect(sidebar.get_by_role("button", name="Work, small stuff", exact=True)).to_have_attribute("aria-current", "page")
    expect(titles(page)).to_have_text(["Expense report"])
    stored = user.call("GET", f"/api/views/{view['id']}")
    assert stored["name"] == "Work, small stuff"
    assert stored["query"].get("priority") == "LOW"
    assert console.errors == []


# History --------------------------------------------------------------------------------------


def test_a_tasks_history_lists_its_changes_newest_first(browser, worker, user, console, artifacts):
    task = user.create(title="Draft the speech", priority="low")
    task = user.call("PATCH", f"/api/tasks/{task['id']}", {"priority": "high", "title": "Draft the toast"})
    user.call("POST", f"/api/tasks/{task['id']}/complete")
    page = open_page(browser, worker.url, user.token, console)
    page.select_option("#status", "all")
    row(page, "Draft the toast").get_by_role("button", name="History of “Draft the toast”").click()
    dialog = page.locator("#history-dialog")
    expect(dialog).to_be_visible()
    events = dialog.locator("#history-list > li")
    expect(events).to_have_count(3)
    assert [events.nth(i).get_attribute("data-type") for i in range(3)] == ["completed", "updated", "created"]
    changed = events.nth(1)
    expect(changed.locator("[data-field=priority]")).to_have_text("Priority: LOW → HIGH")
    expect(changed.locator("[data-field=title]")).to_have_text("Title: Draft the speech → Draft the toast")
    expect(events.nth(2)).to_contain_text("“Draft the speech”")
    page.screenshot(path=str(artifacts / "history.png"))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert console.errors == []


# Settings -------------------------------------------------------------------------------------


def open_settings(page) -> None:
    page.get_by_role("button", name="Settings").click()
    expect(page.locator("#settings-panel")).to_be_visible()


def test_the_time_zone_setting_is_stored_and_decides_what_today_is(browser, worker, user, console):
    require_settings(user)
    noon, night = zone_at_hour(12), zone_at_hour(2)
    user.call("PUT", "/api/settings", {"time_zone": noon})
    # 20 hours ahead: tomorrow morning where it is noon now, tonight where it is 2 am.
    user.create(title="Pick up the parcel", due_date=in_days(20 / 24))
    page = open_page(browser, worker.url, user.token, console, expected=STATUS_400)
    expect(row(page, "Pick up the parcel")).to_have_attribute("data-group", "upcoming")

    open_settings(page)
    expect(page.locator("#zone-current")).to_have_text(noon)
    page.fill("#zone-input", "Mars/Olympus_Mons")
    page.get_by_role("button", name="Save").first.click()
    expect(page.locator("#zone-error")).to_contain_text("not a time zone")
    page.fill("#zone-input", night)
    page.press("#zone-input", "Enter")
    expect(page.locator("#zone-current")).to_have_text(night)
    assert user.call("GET", "/api/settings")["time_zone"] == night

    page.get_by_role("button", name="Tasks").click()
    expect(row(page, "Pick up the parcel")).to_have_attribute("data-group", "today")
    page.reload()  # read from the server again
    expect(row(page, "Pick up the parcel")).to_have_attribute("data-group", "today")
    assert console.errors == []


def test_the_reminder_email_is_set_shown_unconfirmed_and_cleared(browser, worker, user, console):
    page = open_page(browser, worker.url, user.token, console, expected=STATUS_409)
    open_settings(page)
    status = page.locator("#email-status")
    expect(status).to_have_attribute("data-state", "none")
    page.fill("#email-input", "ada@example.com")
    page.locator("#email-form").get_by_role("button", name="Save").click()
    expect(status).to_have_attribute("data-state", "pending")
    expect(status).to_contain_text("ada@example.com")
    assert user.call("GET", "/api/notification-settings")["email"] == "ada@example.com"

    # This test server sends no e-mail: resending says so, in the server's words.
    page.get_by_role("button", name="Resend confirmation").click()
    expect(page.locator("#email-error")).to_contain_text("sends no email")

    page.fill("#email-input", "")
    page.locator("#email-form").get_by_role("button", name="Save").click()
    expect(status).to_have_attribute("data-state", "none")
    assert user.call("GET", "/api/notification-settings")["email"] is None
    assert console.errors == []


class Receiver:
    """A local webhook endpoint that answers 204 and counts what it got."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def run_sql(database_url: str, statement: str, *args: Any) -> None:
    """One statement through asyncpg, on a thread of its own (Playwright's loop counts as running on this one)."""
    import asyncpg

    async def execute() -> None:
        connection = await asyncpg.connect(re.sub(r"^postgresql\+asyncpg", "postgresql", database_url))
        try:
            await connection.execute(statement, *args)
        finally:
            await connection.close()

    failure: list[BaseException] = []
    thread = threading.Thread(target=lambda: failure.extend(_capture(lambda: asyncio.run(execute()))))
    thread.start()
    thread.join(30)
    if failure:
        raise failure[0]


def _capture(call) -> list[BaseException]:
    try:
        call()
    except BaseException as exc:  # handed back to the test's thread
        return [exc]
    return []


def test_webhooks_are_added_their_deliveries_read_re_enabled_and_deleted(browser, worker, postgres, user, console,
                                                                        receiver, artifacts):
    page = open_page(browser, worker.url, user.token, console, expected=STATUS_400)
    open_settings(page)
    expect(page.locator("#webhooks-empty")).to_be_visible()
    page.fill("#webhook-url", "ftp://example.com/hook")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#webhook-error")).to_contain_text("http")

    page.fill("#webhook-url", receiver.url)
    page.fill("#webhook-events", "task.*")
    page.get_by_role("button", name="Add webhook").click()
    hooks = page.locator("#webhook-list > li")
    expect(hooks).to_have_count(1)
    expect(hooks.first).to_contain_text(receiver.url)
    secret = page.locator("#webhook-secret-value")
    expect(secret).to_have_value(re.compile(r".{16,}"))
    (hook,) = user.call("GET", "/api/webhooks")["webhooks"]

    user.create(title="Tell the webhook")
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while not receiver.received and datetime.now(UTC) < deadline:
        page.wait_for_timeout(200)
    assert receiver.received, "the webhook got nothing within 30 s"
    deliveries = hooks.first.get_by_role("button", name=f"Deliveries to {receiver.url}")
    deliveries.click()
    log = hooks.first.locator(".delivery-log tbody tr")
    expect(log.first).to_contain_text("task.created")
    expect(log.first).to_have_attribute("data-status", re.compile("succeeded|pending"))
    page.screenshot(path=str(artifacts / "settings-webhooks.png"), full_page=True)

    # Switched off after failures (made so here directly): the reason shows, and it can be switched on again.
    run_sql(postgres, "UPDATE webhooks SET active = false, disabled_at = now(), "
                      "disabled_reason = '10 failed attempts in a row; the last: HTTP 500' WHERE id = $1::uuid",
            hook["id"])
    page.get_by_role("button", name="Tasks").click()
    open_settings(page)
    expect(hooks.first).to_contain_text("10 failed attempts in a row")
    hooks.first.get_by_role("button", name=f"Re-enable {receiver.url}").click()
    expect(hooks.first.locator(".badge")).to_have_text("active")
    assert user.call("GET", "/api/webhooks")["webhooks"][0]["active"] is True

    hooks.first.get_by_role("button", name=f"Delete webhook {receiver.url}").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(hooks).to_have_count(0)
    assert user.call("GET", "/api/webhooks")["webhooks"] == []
    assert console.errors == []


def fetch_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_calendar_feed_url_is_created_copied_rotated_and_turned_off(browser, worker, user, console, artifacts):
    page = open_page(browser, worker.url, user.token, console, permissions=("clipboard-read", "clipboard-write"))
    open_settings(page)
    page.get_by_role("button", name="Create feed URL").click()
    url_box = page.locator("#calendar-url")
    expect(url_box).to_have_value(re.compile(r"/calendar/[A-Za-z0-9_-]+\.ics$"))
    first = url_box.input_value()
    assert fetch_status(first) == 200

    page.get_by_role("button", name="Copy").first.click()
    expect(page.locator("#toasts .toast", has_text="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == first
    page.screenshot(path=str(artifacts / "settings-calendar.png"), full_page=True)

    page.get_by_role("button", name="Rotate").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Rotate").click()
    expect(url_box).not_to_have_value(first)
    second = url_box.input_value()
    assert fetch_status(first) == 404 and fetch_status(second) == 200

    page.get_by_role("button", name="Turn off").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Turn off").click()
    expect(page.get_by_role("button", name="Create feed URL")).to_be_visible()
    assert fetch_status(second) == 404
    assert console.errors == []


# Keyboard and looks ---------------------------------------------------------------------------


def test_keyboard_shortcuts_move_the_selection_complete_and_open_things(browser, worker, user, console, artifacts):
    user.create(title="First thing", due_date=in_days(-1))
    user.create(title="Second thing", due_date=in_days(2))
    user.create(title="Third thing")
    page = open_page(browser, worker.url, user.token, console)
    expect(titles(page)).to_have_text(["First thing", "Second thing", "Third thing"])
    body = page.locator("body")

    body.press("?")
    expect(page.locator("#help-dialog")).to_be_visible()
    expect(page.locator("#help-dialog")).to_contain_text("Complete (or reopen) the selected task")
    page.screenshot(path=str(artifacts / "shortcuts-help.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#help-dialog")).to_be_hidden()

    body.press("q")
    expect(page.locator("#quick-add")).to_be_focused()
    page.keyboard.type("jkx")  # typed into the box, not shortcuts
    expect(page.locator("#quick-add")).to_have_value("jkx")
    page.keyboard.press("Escape")
    expect(page.locator("#quick-add")).to_have_value("")

    body.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("j")
    expect(page.locator("#search")).to_have_value("j")
    page.fill("#search", "")
    page.locator("#tasks-title").click()  # out of the field

    keys = page.keyboard
    selected = page.locator("#task-list > li.task.selected .task-title")
    keys.press("j")
    expect(selected).to_have_text("First thing")
    keys.press("j")
    keys.press("j")
    expect(selected).to_have_text("Third thing")
    keys.press("j")  # stays on the last
    expect(selected).to_have_text("Third thing")
    keys.press("k")
    expect(selected).to_have_text("Second thing")
    expect(page.locator("#task-list > li.task[aria-current=true]")).to_have_count(1)

    keys.press("x")
    expect(row(page, "Second thing")).to_have_count(0)  # done, so out of the open tasks
    done = user.call("GET", "/api/tasks?completed=true")["tasks"]
    assert [t["title"] for t in done] == ["Second thing"]
    assert console.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_colours_follow_the_systems_light_or_dark_setting(browser, worker, user, console, artifacts, scheme):
    user.create(title="Stretch", due_date=in_days(-0.2), priority="high", tags=["health"])
    user.create(title="Plan the week", due_date=in_days(1))
    user.call("POST", "/api/views", {"name": "Health", "params": {"tags": "health"}})
    page = open_page(browser, worker.url, user.token, console, color_scheme=scheme)
    expect(titles(page)).to_have_count(2)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(n) for n in re.findall(r"\d+", background)[:3])
    brightness = (red * 299 + green * 587 + blue * 114) / 1000
    assert (brightness < 60) if scheme == "dark" else (brightness > 200), background
    page.screenshot(path=str(artifacts / f"dashboard-{scheme}.png"), full_page=True)
    open_settings(page)
    page.screenshot(path=str(artifacts / f"settings-{scheme}.png"), full_page=True)

    phone = open_page(browser, worker.url, user.token, console, color_scheme=scheme, viewport=PHONE)
    expect(titles(phone)).to_have_count(2)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(artifacts / f"dashboard-phone-{scheme}.png"), full_page=True)
    open_settings(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert console.errors == []


@pytest.mark.parametrize(("zone", "day", "starts", "next_starts"), [
    ("Europe/Berlin", "2026-12-02", "2026-12-01T23:00:00.000Z", "2026-12-02T23:00:00.000Z"),
    ("Europe/Berlin", "2026-03-29", "2026-03-28T23:00:00.000Z", "2026-03-29T22:00:00.000Z"),  # a 23-hour day
    ("Europe/Berlin", "2026-10-25", "2026-10-24T22:00:00.000Z", "2026-10-25T23:00:00.000Z"),  # a 25-hour day
    ("America/Santiago", "2026-09-06", "2026-09-06T04:00:00.000Z", "2026-09-07T03:00:00.000Z"),  # no midnight
    ("Pacific/Kiritimati", "2026-12-02", "2026-12-01T10:00:00.000Z", "2026-12-02T10:00:00.000Z"),
])
def test_a_day_in_the_users_zone_starts_at_its_own_midnight(browser, worker, console, zone, day, starts, next_starts):
    """The dashboard's calendar arithmetic (zone.js), run in the browser: what "due from / until" a day sends."""
    page = open_page(browser, worker.url, None, console)
    got = page.evaluate("""async ([zone, day]) => {
        const z = await import("/static/js/zone.js");
        z.setZone(zone);
        const iso = (ms) => new Date(ms).toISOString();
        return [iso(z.startOfDay(day)), iso(z.startOfDay(day, 1)), z.dayOf(z.startOfDay(day)),
                z.dayOf(z.startOfDay(day, 1) - 1)];
    }""", [zone, day])
    assert got == [starts, next_starts, day, day]
    assert console.errors == []


@pytest.mark.parametrize(("zone", "typed", "instant", "with_offset"), [
    ("Europe/Berlin", "2026-12-02T09:00", "2026-12-02T08:00:00.000Z", "2026-12-02T09:00:00+01:00"),
    ("Europe/Berlin", "2026-10-25T02:30", "2026-10-25T00:30:00.000Z", "2026-10-25T02:30:00+02:00"),  # twice: the first
    ("Europe/Berlin", "2026-03-29T02:30", "2026-03-29T01:30:00.000Z", "2026-03-29T03:30:00+02:00"),  # skipped: later
    ("Asia/Kolkata", "2026-12-02T09:00", "2026-12-02T03:30:00.000Z", "2026-12-02T09:00:00+05:30"),
])
def test_times_typed_into_the_editor_are_read_in_the_users_zone(browser, worker, console, zone, typed, instant,
                                                                with_offset):
    """The task editor's and the recurring editor's date-time fields, run in the browser: wall time in the
    user's zone, whatever zone the browser is in."""
    page = open_page(browser, worker.url, None, console, timezone_id="America/Los_Angeles")
    got = page.evaluate("""async ([zone, typed]) => {
        const z = await import("/static/js/zone.js");
        const f = await import("/static/js/format.js");
        z.setZone(zone);
        const iso = f.fromLocalInput(typed);
        return [iso, f.withLocalOffset(typed), f.toLocalInput(iso)];
    }""", [zone, typed])
    assert got[:2] == [instant, with_offset]
    assert got[2] == with_offset[:16]
    assert console.errors == []
