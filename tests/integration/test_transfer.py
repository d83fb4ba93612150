"""Export and import: a user's data moves between accounts intact, a second import creates nothing,
a Todoist export maps what it can and says why it skipped the rest, and nobody exports another user's data."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from stack import JWT_SECRET

pytestmark = pytest.mark.integration

TASKSTREAM = [sys.executable, "-c", "from streams.app import main; main()"]
NOTHING = {"tasks": 0, "recurring_tasks": 0, "reminders": 0, "saved_views": 0, "notification_settings": 0}
TASK_FIELDS = ("title", "description", "due_date", "priority", "tags", "completed")


def future(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def fill_account(api) -> None:
    due = future(10)
    rent = await api.create(title="pay rent", description="before noon", due_date=due, priority="high",
                            tags=["home", "finance"])
    await api.create(title="=SUM(A1)", tags=["work"])
    done = await api.create(title="old chore", priority="low")
    await api.call("POST", f"/api/tasks/{done['id']}/complete")
    for method, path, body in [
        ("POST", f"/api/tasks/{rent['id']}/reminders", {"before_due": "PT1H"}),
        ("POST", "/api/recurring-tasks", {"title": "water plants", "frequency": "daily",
                                          "start_date": future(2), "timezone": "Europe/Berlin", "tags": ["home"]}),
        ("POST", "/api/views", {"name": "Home", "filter": "#home", "sort_by": "due_date"}),
        ("PUT", "/api/notification-settings", {"email": "ann@example.com"}),
    ]:
        status, answer, _ = await api.call(method, path, json_body=body)
        assert status in (200, 201), (path, answer)


async def export(api, **params) -> dict:
    status, document, headers = await api.call("GET", "/api/export", params=params)
    assert status == 200, document
    return document


def comparable(document: dict) -> dict:
    """What must survive a move between accounts: everything but ids, owners and times of writing."""
    return {
        "tasks": sorted((tuple(str(t[k]) for k in TASK_FIELDS) for t in document["tasks"])),
        "recurring": sorted((t["title"], t["frequency"], t["start_date"], t["timezone"], t["status"])
                            for t in document["recurring_tasks"]),
        "reminders": sorted((r["before_due"], r["remind_at"]) for r in document["reminders"]),
        "views": sorted((v["name"], json.dumps(v["query"], sort_keys=True)) for v in document["saved_views"]),
        "email": document["notification_settings"]["email"],
    }


async def import_(api, body, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return await api.call("POST", "/api/import", data=data, headers={"Content-Type": content_type})


async def test_export_then_import_into_another_account_gives_the_same_data_and_a_reimport_creates_nothing(
        api, other_api):
    await fill_account(api)
    await other_api.create(title="b's own task")
    document = await export(api)
    assert (document["format"], document["version"], document["user_id"]) == ("taskstream-export", 1, api.user_id)
    assert len(document["tasks"]) == 4  # three tasks and the series' first occurrence

    status, report, _ = await import_(other_api, document)
    assert status == 200, report
    assert report["created"] == {"tasks": 3, "recurring_tasks": 1, "reminders": 1, "saved_views": 1,
                                 "notification_settings": 1}, report
    assert [s["kind"] for s in report["skipped"]] == ["task"], "the open occurrence comes from the imported series"

    theirs = await export(other_api)
    expected = comparable(document)
    expected["tasks"].append(tuple(str(v) for v in ("b's own task", None, None, "MEDIUM", [], False)))
    expected["tasks"].sort()
    assert comparable(theirs) == expected
    assert all(t["user_id"] == other_api.user_id for t in theirs["tasks"])
    assert not {t["id"] for t in theirs["tasks"]} & {t["id"] for t in document["tasks"]}, "imported tasks get new ids"

    # Every imported task went through the write path: its audit row is there, and so its change for clients.
    _, changes, _ = await other_api.call("GET", "/api/changes")
    created = {c["task_id"] for c in changes["changes"] if c["type"] == "task.created"}
    assert {t["id"] for t in theirs["tasks"]} <= created

    status, again, _ = await import_(other_api, document)
    assert status == 200 and again["created"] == NOTHING, again
    assert len(again["skipped"]) == 7, again["skipped"]
    status, own, _ = await import_(api, document)
    assert status == 200 and own["created"] == NOTHING, "importing your own export into your account adds nothing"
    assert comparable(await export(other_api)) == expected


async def test_an_export_holds_only_the_callers_data(api, other_api):
    await fill_account(other_api)
    await api.create(title="mine")
    document = await export(api)
    text = json.dumps(document)
    assert other_api.user_id not in text and "pay rent" not in text and "ann@example.com" not in text
    assert [t["title"] for t in document["tasks"]] == ["mine"]
    assert document["recurring_tasks"] == document["reminders"] == document["saved_views"] == []
    status, body, _ = await api.call("GET", "/api/export", params={"format": "csv"})
    assert status == 200 and "pay rent" not in body


async def test_csv_export_lists_every_task_and_defuses_spreadsheet_formulas(api):
    await fill_account(api)
    status, text, headers = await api.call("GET", "/api/export", params={"format": "csv"})
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert headers["Content-Disposition"].startswith("attachment; filename=\"taskstream-export-")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_title = {row["title"]: row for row in rows}
    assert set(by_title) == {"pay rent", "'=SUM(A1)", "old chore", "water plants"}
    assert by_title["pay rent"]["tags"] == "home,finance" and by_title["pay rent"]["priority"] == "HIGH"
    assert by_title["old chore"]["completed"] == "true"


TODOIST = """\ufeffTYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE,DURATION,DURATION_UNIT
task,Pay rent @home @Finance,Transfer before noon,1,1,Ann (1),,2026-12-11 10:00,en,Europe/Berlin,,
task,Water plants @home,,4,1,Ann (1),,every day at 9am,en,Europe/Berlin,,
section,Work,,,,,,,,,,
task,Quarterly report @work,,2,1,Ann (1),,Dec 11,en,UTC,30,minute
task,Call mum,,3,2,Ann (1),,tomorrow,en,,,
note,"Remember
the numbers",,,,Ann (1),,,,,,

task,Read a book,,,1,Ann (1),,,en,,,
"""


async def test_a_todoist_export_maps_priorities_labels_dates_and_repeats_and_skips_the_rest_with_reasons(api):
    status, report, _ = await import_(api, TODOIST, "text/csv")
    assert status == 200, report
    assert report["created"] == {**NOTHING, "tasks": 3, "recurring_tasks": 1}, report
    skipped = {s["line"]: s for s in report["skipped"]}
    assert set(skipped) == {4, 6, 7}, report["skipped"]
    assert "section" in skipped[4]["reason"] and "comment" in skipped[7]["reason"]
    assert "'tomorrow'" in skipped[6]["reason"] and "every day" in skipped[6]["reason"]

    _, page, _ = await api.call("GET", "/api/tasks", params={"limit": "50"})
    tasks = {t["title"]: t for t in page["tasks"]}
    assert set(tasks) == {"Pay rent", "Quarterly report", "Read a book", "Water plants"}
    rent = tasks["Pay rent"]
    assert (rent["priority"], rent["tags"], rent["description"]) == ("HIGH", ["home", "finance"],
                                                                      "Transfer before noon")
    assert rent["due_date"] == "2026-12-11T09:00:00Z", "10:00 in Berlin"
    today = datetime.now(UTC).date()
    year = today.year if (today.month, today.day) <= (12, 11) else today.year + 1
    report_task = tasks["Quarterly report"]
    assert (report_task["priority"], report_task["tags"]) == ("MEDIUM", ["work"])
    assert report_task["due_date"] == f"{year}-12-11T00:00:00Z", "a year-less date is the next one"
    assert (tasks["Read a book"]["priority"], tasks["Read a book"]["due_date"]) == ("LOW", None)

    _, series, _ = await api.call("GET", "/api/recurring-tasks")
    [plants] = series["recurring_tasks"]
    assert (plants["title"], plants["frequency"], plants["interval"], plants["timezone"], plants["priority"],
            plants["tags"]) == ("Water plants", "DAILY", 1, "Europe/Berlin", "LOW", ["home"])
    start = datetime.fromisoformat(plants["start_date"]).astimezone(ZoneInfo("Europe/Berlin"))
    assert (start.date(), start.hour, start.minute) == (datetime.now(ZoneInfo("Europe/Berlin")).date(), 9, 0)
    assert tasks["Water plants"]["recurring_task_id"] == plants["id"]

    status, again, _ = await import_(api, TODOIST, "text/csv")
    assert status == 200 and again["created"] == NOTHING, again
    assert {s["line"] for s in again["skipped"]} == {2, 3, 4, 5, 6, 7, 10}


@pytest.mark.parametrize("content_type, body, field, words", [
    ("text/plain", "hello", "Content-Type", "text/csv"),
    ("application/json", "{not json", "body", "not valid JSON"),
    ("application/json", "[]", "body", "JSON object"),
    ("application/json", {"format": "other", "version": 1}, "format", "GET /api/export"),
    ("application/json", {"format": "taskstream-export", "version": 2}, "version", "version 1"),
    ("application/json", {"format": "taskstream-export", "version": 1, "tasks": {}}, "tasks", "list"),
    ("application/json", {"format": "taskstream-export", "version": 1, "extra": 1}, "extra", "unknown"),
    ("text/csv", "title,due\nx,y\n", "body", "TYPE or CONTENT"),
    ("text/csv", "   ", "body", "empty"),
    ("text/csv", b"TYPE,CONTENT\ntask,caf\xe9\n", "body", "UTF-8"),
])
async def test_bad_imports_answer_400_saying_what_is_wrong_and_change_nothing(api, content_type, body, field,
                                                                                words):
    status, error, _ = await import_(api, body, content_type)
    assert status == 400, error
    assert error["details"]["field"] == field and words in error["message"], error
    _, page, _ = await api.call("GET", "/api/tasks")
    assert page["total"] == 0


async def test_bad_entries_are_skipped_with_their_reason_and_the_rest_is_imported(api):
    document = {"format": "taskstream-export", "version": 1, "tasks": [
        {"id": "2f0a3c1e-0000-4000-8000-000000000001", "title": "fine"},
        {"id": "2f0a3c1e-0000-4000-8000-000000000002", "title": ""},
        {"id": "not-a-uuid", "title": "no id"},
        "a string",
    ], "saved_views": [{"name": "Broken", "query": {"filter": "#a &"}}],
        "notification_settings": {"email": "not an address"}}
    status, report, _ = await import_(api, document)
    assert status == 200 and report["created"]["tasks"] == 1, report
    reasons = [(s["kind"], s["reason"]) for s in report["skipped"]]
    assert len(reasons) == 5, reasons
    assert any(kind == "task" and reason.startswith("title:") for kind, reason in reasons)
    assert any(kind == "saved_view" and reason.startswith("filter:") for kind, reason in reasons)


async def test_an_import_over_the_body_limit_says_what_to_do(api):
    status, error, _ = await import_(api, "TYPE,CONTENT\n" + "task,x\n" * 200_000, "text/csv")
    assert status == 413, error
    assert error["error"] == "payload_too_large" and "taskstream import" in error["message"]


async def test_export_rejects_an_unknown_format(api):
    status, error, _ = await api.call("GET", "/api/export", params={"format": "xml"})
    assert status == 400 and error["details"]["field"] == "format"


def cli(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, "DATABASE_URL": database_url, "JWT_SECRET": JWT_SECRET}
    return subprocess.run([*TASKSTREAM, *args], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


async def test_the_cli_exports_and_imports_through_the_database_with_progress(api, other_api, postgres, tmp_path):
    await fill_account(api)
    path = tmp_path / "export.json"
    done = cli("export", "--user", api.user_id, "--output", str(path), database_url=postgres)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(path.read_text())["user_id"] == api.user_id

    done = cli("import", "--user", other_api.user_id, str(path), database_url=postgres)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["created"]["tasks"] == 3
    assert "3 of 3 tasks" in done.stderr and "imported into" in done.stderr
    assert comparable(await export(other_api)) == comparable(await export(api))

    again = cli("import", "--user", other_api.user_id, str(path), database_url=postgres)
    assert again.returncode == 0 and json.loads(again.stdout)["created"] == NOTHING

    csv_out = cli("export", "--user", api.user_id, "--format", "csv", database_url=postgres)
    assert csv_out.returncode == 0 and csv_out.stdout.startswith("id,title,")
    (tmp_path / "bad.json").write_text('{"format": "x"}')
    bad = cli("import", "--user", other_api.user_id, str(tmp_path / "bad.json"), database_url=postgres)
    assert bad.returncode != 0 and "format" in bad.stderr and "Traceback" not in bad.stderr
