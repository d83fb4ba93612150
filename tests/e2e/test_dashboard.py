"""The dashboard in a real headless Chromium against a real worker: live updates, filters, reconnects, phones."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from ci_env import skip_or_fail
from dashboard_support import (
    PHONE, documented, documenting, expect, has_route, in_days, local_input, open_page, row, sign_in, titles,
)
from stack import Worker

pytestmark = pytest.mark.e2e

#: Chromium itself logs failed connections and HTTP error answers to the console. These are the
#: ones a test provokes on purpose; they are not script errors.
REFUSED = ("ERR_CONNECTION_REFUSED", "WebSocket connection to")
FILTER_400 = ("status of 400", "filter=")
UNAUTHORIZED = ("status of 401",)


def test_changes_in_one_window_appear_in_the_other_without_a_reload(browser, worker, user, console):
    a = open_page(browser, worker.url, user.token, console)
    b = open_page(browser, worker.url, user.token, console)
    for page in (a, b):
        page.select_option("#status", "all")
    b.evaluate("window.notReloaded = true")

    # Create, with the keyboard only: "n" opens the dialog, Enter saves it.
    a.locator("body").press("n")
    expect(a.locator("#task-dialog")).to_be_visible()
    expect(a.locator("#task-title")).to_be_focused()
    a.keyboard.type("Buy oat milk")
    a.select_option("#task-priority", "HIGH")
    a.fill("#task-due", local_input(3.2))
    a.fill("#task-tags", "Errands, home")
    a.press("#task-tags", "Enter")
    expect(a.locator("#task-dialog")).to_be_hidden()
    expect(row(a, "Buy oat milk")).to_have_count(1)

    in_b = row(b, "Buy oat milk")
    expect(in_b).to_have_count(1)
    expect(in_b.locator(".badge")).to_have_text("High")
    expect(in_b.locator(".tag")).to_have_text(["#errands", "#home"])
    expect(in_b.locator(".due")).to_contain_text("Due in 3 days")
    expect(in_b.locator(".due time")).to_have_attribute("datetime", re.compile(r"Z$"))

    # Complete in A: B shows it done; reopen it: B shows it open again.
    row(a, "Buy oat milk").get_by_role("checkbox").click()
    expect(in_b).to_have_class(re.compile(r"\bdone\b"))
    row(a, "Buy oat milk").get_by_role("checkbox").click()
    expect(in_b).not_to_have_class(re.compile(r"\bdone\b"))

    # Edit in A.
    row(a, "Buy oat milk").get_by_role("button", name="Edit “Buy oat milk”").click()
    expect(a.locator("#task-title")).to_have_value("Buy oat milk")
    a.fill("#task-title", "Buy oat milk and bread")
    a.select_option("#task-priority", "LOW")
    a.fill("#task-description", "the good bread")
    a.get_by_role("button", name="Save").click()
    edited = row(b, "Buy oat milk and bread")
    expect(edited).to_have_count(1)
    expect(edited.locator(".badge")).to_have_text("Low")
    expect(edited.locator(".task-description")).to_have_text("the good bread")

    # Escape closes a dialog without saving, and focus returns to the button that opened it.
    edit = row(a, "Buy oat milk and bread").get_by_role("button", name="Edit “Buy oat milk and bread”")
    edit.click()
    a.fill("#task-title", "not saved")
    a.keyboard.press("Escape")
    expect(a.locator("#task-dialog")).to_be_hidden()
    expect(edit).to_be_focused()

    # Delete in A, confirmed with Enter: gone in B.
    row(a, "Buy oat milk and bread").get_by_role("button", name="Delete “Buy oat milk and bread”").click()
    expect(a.locator("#confirm-dialog")).to_be_visible()
    a.keyboard.press("Enter")
    expect(edited).to_have_count(0)
    expect(b.locator("#empty")).to_be_visible()
    assert user.call("GET", "/api/tasks")["total"] == 0

    assert b.evaluate("window.notReloaded") is True
    assert console.errors == []


def test_a_bad_token_is_refused_and_signing_out_forgets_the_token(browser, worker, user, console):
    page = open_page(browser, worker.url, None, console, expected=UNAUTHORIZED)
    page.fill("#token-input", "not-a-token")
    page.press("#token-input", "Enter")
    expect(page.locator("#token-error")).to_contain_text("does not look like a token")

    from stack import make_token

    page.fill("#token-input", make_token(user.user_id, secret="another-secret-0123456789abcdef0123"))
    page.press("#token-input", "Enter")
    expect(page.locator("#token-error")).to_contain_text("did not accept")
    expect(page.locator("#app")).to_be_hidden()

    sign_in(page, f"Bearer {user.token}")  # pasted with its scheme: still fine
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {user.user_id}")
    assert page.evaluate("sessionStorage.getItem('taskstream.token')") == user.token
    page.reload()  # the tab keeps its session
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#token-input")).to_be_focused()
    assert page.evaluate("sessionStorage.getItem('taskstream.token')") is None
    page.reload()
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()

    # A #token= link signs in and leaves no token in the address bar.
    page.goto(f"{worker.url}/#token={user.token}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    assert "token" not in page.url
    assert console.errors == []


def test_search_filters_sorting_and_the_filter_language(browser, worker, user, console):
    user.create(title="Quarterly report", priority="high", tags=["work"], due_date=in_days(2))
    user.create(title="Groceries", priority="low", tags=["home", "errands"], due_date=in_days(-1))
    user.create(title="Dentist", priority="medium", tags=["health"])
    page = open_page(browser, worker.url, user.token, console, expected=FILTER_400)
    # The default view groups by due date: Overdue, then Upcoming, then No date.
    expect(titles(page)).to_have_text(["Groceries", "Quarterly report", "Dentist"])
    expect(page.locator("#task-total")).to_have_text("· 3")
    expect(row(page, "Groceries")).to_have_class(re.compile(r"\boverdue\b"))
    expect(row(page, "Groceries").locator(".due")).to_contain_text("Overdue yesterday")

    page.locator("#search").press_sequentially("quarter", delay=30)  # searched as you type
    expect(titles(page)).to_have_text(["Quarterly report"])
    page.fill("#search", "")
    expect(titles(page)).to_have_count(3)

    page.select_option("#status", "overdue")
    expect(titles(page)).to_have_text(["Groceries"])
    page.select_option("#status", "open")

    page.get_by_role("button", name="Filters").click()
    page.locator("label.chip", has_text="High").click()
    page.locator("label.chip", has_text="Medium").click()
    expect(titles(page)).to_have_text(["Quarterly report", "Dentist"])
    page.locator("label.chip", has_text="High").click()
    page.locator("label.chip", has_text="Medium").click()
    page.fill("#filter-tags", "errands")
    expect(titles(page)).to_have_text(["Groceries"])
    page.fill("#filter-tags", "")
    page.fill("#due-from", datetime.now(UTC).strftime("%Y-%m-%d"))
    page.locator("#due-from").press("Tab")
    expect(titles(page)).to_have_text(["Quarterly report"])
    page.fill("#due-from", "")
    page.locator("#due-from").press("Tab")

    page.select_option("#sort-by", "title")
    page.select_option("#sort-order", "asc")
    expect(titles(page)).to_have_text(["Dentist", "Groceries", "Quarterly report"])
    page.select_option("#sort-order", "desc")
    expect(titles(page)).to_have_text(["Quarterly report", "Groceries", "Dentist"])
    page.select_option("#sort-by", "priority")
    expect(titles(page)).to_have_text(["Quarterly report", "Dentist", "Groceries"])

    # The filter language: a syntax error shows the server's message and where it is.
    page.fill("#filter-text", "priority>=medium & (due<")
    page.press("#filter-text", "Enter")
    error = page.locator("#filter-error")
    expect(error).to_be_visible()
    expect(error.locator(".message")).to_contain_text("position 24")
    expect(error.locator("mark")).to_have_count(1)
    expect(page.locator("#filter-text")).to_have_attribute("aria-invalid", "true")
    page.fill("#filter-text", "priority>=medium & !#health")
    page.press("#filter-text", "Enter")
    expect(error).to_be_hidden()
    expect(titles(page)).to_have_text(["Quarterly report"])

    # A change made elsewhere that the filter excludes stays out of the list; one it matches comes in.
    user.create(title="Old report", priority="low", tags=["work"])
    user.create(title="Board report", priority="high", tags=["work"])
    expect(titles(page)).to_have_count(2)
    assert sorted(titles(page).all_inner_texts()) == ["Board report", "Quarterly report"]  # equal priority

    page.get_by_role("button", name="Clear filters").click()
    expect(titles(page)).to_have_count(5)
    assert console.errors == []


def test_the_connection_comes_back_after_a_restart_and_catches_up(browser, postgres, broker, worker, user, console,
                                                                  tmp_path):
    own = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path / "a").start()
    try:
        sockets: list[str] = []
        page = open_page(browser, own.url, user.token, console, expected=REFUSED,
                         before=lambda p: p.on("websocket", lambda ws: sockets.append(ws.url)))
        before = user.create(title="Before the restart")
        expect(row(page, "Before the restart")).to_have_count(1)

        own.stop()  # the server closes its sockets with 1001 going away
        expect(page.locator("#connection")).not_to_have_attribute("data-state", "live")
        # Changed through another worker while this page cannot hear about it.
        user.create(title="While it was down")
        user.call("POST", f"/api/tasks/{before['id']}/complete")

        again = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path / "b")
        again.port, again.url, again.env["WEB_PORT"] = own.port, own.url, str(own.port)
        own = again.start()
        expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=60_000)
        expect(row(page, "While it was down")).to_have_count(1)
        expect(row(page, "Before the restart")).to_have_count(0)  # completed meanwhile; the view shows open tasks
        assert any("since=" in url for url in sockets[1:]), sockets
        assert console.errors == []
    finally:
        own.stop()


def test_recurring_tasks_can_be_created_paused_and_deleted(browser, worker, user, console):
    if not has_route(user, "/api/recurring-tasks"):
        skip_or_fail("this server has no /api/recurring-tasks")
    page = open_page(browser, worker.url, user.token, console, before=documenting(worker, RECURRING))
    page.get_by_role("button", name="Recurring").click()
    expect(page.locator("#templates-empty")).to_be_visible()

    page.get_by_role("button", name="New recurring task").click()
    page.fill("#template-title", "Water the plants")
    page.fill("#template-tags", "home")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):  # the start date's weekday comes ticked
        chip = page.locator("#rule-weekdays label.chip", has_text=day)
        if chip.locator("input").is_checked() != (day in ("Mon", "Thu")):
            chip.click()
    page.select_option("#rule-ends", "after")
    page.fill("#rule-count", "8")
    page.press("#template-title", "Enter")
    template = page.locator("#template-list > li", has_text="Water the plants")
    expect(template).to_have_count(1)
    expect(template).to_contain_text("Every week on Mon, Thu · 8 times")
    expect(template.locator(".badge.status-active")).to_have_text("active")

    template.get_by_role("button", name="Upcoming occurrences of “Water the plants”").click()
    expect(template.locator(".occurrences li")).to_have_count(5)

    template.get_by_role("button", name="Pause “Water the plants”").click()
    expect(template.locator(".badge.status-paused")).to_have_text("paused")
    template.get_by_role("button", name="Resume “Water the plants”").click()
    expect(template.locator(".badge.status-active")).to_have_text("active")

    # Its first occurrence is a task, which arrived live.
    page.get_by_role("button", name="Tasks").click()
    expect(row(page, "Water the plants")).to_contain_text("recurring")

    page.get_by_role("button", name="Recurring").click()
    template.get_by_role("button", name="Delete “Water the plants”").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(template).to_have_count(0)
    assert user.call("GET", "/api/recurring-tasks")["total"] == 0
    assert console.errors == []


def test_reminders_on_a_task_and_notifications_arriving_live(browser, worker, user, console):
    for path in ("/api/tasks/{task_id}/reminders", "/api/notifications"):
        if not documented(worker, path):
            skip_or_fail(f"this server does not offer {path}")
    task = user.create(title="Renew passport", due_date=in_days(0.2))
    page = open_page(browser, worker.url, user.token, console)
    expect(page.locator("#notifications-button")).to_be_visible()

    row(page, "Renew passport").get_by_role("button", name="Edit “Renew passport”").click()
    reminders = page.locator("#reminders")
    expect(reminders).to_be_visible()
    expect(reminders.locator("#reminder-list")).to_have_text("No reminders.")
    page.select_option("#reminder-kind", "PT1H")
    page.get_by_role("button", name="Add reminder").click()
    expect(reminders.locator("#reminder-list li")).to_contain_text("1 hour before due")
    reminders.get_by_role("button", name=re.compile("^Remove reminder")).click()
    expect(reminders.locator("#reminder-list")).to_have_text("No reminders.")
    page.keyboard.press("Escape")

    remind_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    user.call("POST", f"/api/tasks/{task['id']}/reminders", {"remind_at": remind_at})
    toast = page.locator("#toasts .toast.notification")
    expect(toast).to_contain_text("Renew passport", timeout=60_000)
    expect(page.locator("#unread-count")).to_have_text("1")

    page.locator("#notifications-button").click()
    item = page.locator("#notification-list > li.unread")
    expect(item).to_contain_text("Renew passport")
    item.get_by_role("button", name="Mark read").click()
    expect(page.locator("#notification-list > li.read")).to_have_count(1)
    expect(page.locator("#unread-count")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator("#notifications-dialog")).to_be_hidden()
    assert console.errors == []


def test_what_the_server_does_not_offer_is_not_shown(browser, worker, user, console):
    user.create(title="Plain task", due_date=in_days(1))
    page = open_page(browser, worker.url, user.token, console, before=documenting(worker, {}, only_tasks=True))
    expect(titles(page)).to_have_text(["Plain task"])
    expect(page.locator("#notifications-button")).to_be_hidden()
    expect(page.locator("#tabs")).to_be_hidden()
    row(page, "Plain task").get_by_role("button", name="Edit “Plain task”").click()
    expect(page.locator("#reminders")).to_be_hidden()
    assert console.errors == []


def test_screenshots_of_the_dashboard_on_a_desktop_and_a_phone(browser, worker, user, console, artifacts):
    seed(user)
    page = open_page(browser, worker.url, user.token, console)
    expect(titles(page)).to_have_count(6)
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    phone = open_page(browser, worker.url, user.token, console, viewport=PHONE, color_scheme="dark")
    expect(titles(phone)).to_have_count(6)
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(artifacts / "dashboard-phone.png"), full_page=True)
    phone.get_by_role("button", name="New task").click()
    dialog = phone.locator("#task-dialog").bounding_box()
    assert dialog["x"] >= 0 and dialog["x"] + dialog["width"] <= PHONE["width"]
    expect(phone.get_by_role("button", name="Save")).to_be_in_viewport()
    phone.screenshot(path=str(artifacts / "dashboard-phone-dialog.png"))
    assert console.errors == []


# Helpers --------------------------------------------------------------------------------------

RECURRING = {
    "/api/recurring-tasks": ("get", "post"),
    "/api/recurring-tasks/{template_id}": ("get", "patch", "delete"),
    "/api/recurring-tasks/{template_id}/pause": ("post",),
    "/api/recurring-tasks/{template_id}/resume": ("post",),
    "/api/recurring-tasks/{template_id}/occurrences": ("get",),
}


def seed(user) -> None:
    user.create(title="Write the quarterly report", priority="high", tags=["work", "finance"], due_date=in_days(2.2),
                description="Numbers from finance first; draft to Sam by Thursday.")
    user.create(title="Buy groceries", priority="medium", tags=["home", "errands"], due_date=in_days(-0.4))
    user.create(title="Renew passport", priority="low", tags=["admin"], due_date=in_days(45))
    user.create(title="Call the plumber about the kitchen sink", priority="high", tags=["home"],
                due_date=in_days(0.1))
    user.create(title="Read “Designing Data-Intensive Applications”", priority="low", tags=["reading"])
    done = user.create(title="Book train tickets", priority="medium", tags=["travel"], due_date=in_days(5))
    user.call("POST", f"/api/tasks/{done['id']}/complete")
    user.create(title="Plan the team offsite", priority="medium", tags=["work"], due_date=in_days(9),
                description="Venue, agenda, budget.")
