"""The recurring-tasks REST API: templates, rule validation, edits, occurrences listing, user isolation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from recurring_support import iso, make_template, occurrences, parse, tomorrow_at

from streams.rules.recurrence import parse_rule, slots

pytestmark = pytest.mark.integration


async def test_creating_a_template_creates_its_first_occurrence_in_the_same_request(api):
    start = tomorrow_at(9)
    status, template, headers = await api.call("POST", "/api/recurring-tasks", json_body={
        "title": "  Stand-up ", "description": "daily sync", "priority": "high", "tags": ["Work"],
        "frequency": "weekly", "by_weekday": ["mo", "WE", "FR"], "start_date": iso(start),
        "timezone": "Europe/Berlin",
    })
    assert status == 201, template
    assert headers["Location"] == f"/api/recurring-tasks/{template['id']}" and headers["ETag"] == '"1"'
    assert (template["title"], template["priority"], template["tags"]) == ("Stand-up", "HIGH", ["work"])
    assert (template["frequency"], template["interval"], template["by_weekday"]) == ("WEEKLY", 1, ["MO", "WE", "FR"])
    assert template["cron"] is None and template["rrule"] is None and template["count"] is None
    assert template["timezone"] == "Europe/Berlin" and template["repeat_from"] == "due_date"
    assert template["status"] == "active" and template["occurrences_created"] == 1
    first = slots(parse_rule({"frequency": "WEEKLY", "by_weekday": ["MO", "WE", "FR"], "start_date": iso(start),
                              "timezone": "Europe/Berlin"}), limit=1)[0]
    assert parse(template["next_occurrence"]) == first

    # The occurrence exists as soon as the POST answered: no waiting for the agent.
    _, listing, _ = await api.call("GET", "/api/tasks", params={"recurring": "true"})
    assert listing["total"] == 1
    task = listing["tasks"][0]
    assert task["recurring_task_id"] == template["id"]
    assert (task["title"], task["description"], task["priority"], task["tags"]) == (
        "Stand-up", "daily sync", "HIGH", ["work"])
    assert parse(task["due_date"]) == first
    _, history, _ = await api.call("GET", f"/api/audit/tasks/{task['id']}")
    assert [e["event_type"] for e in history["events"]] == ["created"]


@pytest.mark.parametrize(("body", "field"), [
    ({"frequency": "DAILY", "timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"frequency": None, "cron": "0 0 30 2 *"}, "cron"),  # February 30th never comes
    ({"frequency": None, "cron": "not cron"}, "cron"),
    ({"frequency": "DAILY", "interval": 0}, "interval"),
    ({"frequency": "DAILY", "end_date": "2020-01-01T00:00:00Z"}, "end_date"),
    ({"frequency": "HOURLY"}, "frequency"),
    ({"frequency": "WEEKLY", "by_weekday": ["XX"]}, "by_weekday"),
    ({"frequency": "MONTHLY", "by_month_day": 32}, "by_month_day"),
    ({"frequency": "MONTHLY", "by_nth_weekday": "5TU"}, "by_nth_weekday"),
    ({"frequency": "DAILY", "count": 0}, "count"),
    ({"frequency": "DAILY", "repeat_from": "whenever"}, "repeat_from"),
    ({"frequency": None, "rrule": "FREQ=SECONDLY"}, "rrule"),
    ({"frequency": "DAILY", "start_date": "2026-01-01T09:00:00"}, "start_date"),
    ({"frequency": "DAILY", "start_date": None}, "start_date"),
    ({"frequency": "DAILY", "title": None}, "title"),
    ({"frequency": "DAILY", "priority": "urgent"}, "priority"),
    ({"frequency": "DAILY", "every": "day"}, "every"),
])
async def test_an_invalid_template_is_a_400_naming_the_field_and_writes_nothing(api, body, field):
    payload = {"title": "x", "start_date": iso(tomorrow_at(9)), **body}
    payload = {k: v for k, v in payload.items() if not (k == "frequency" and v is None)}
    status, error, _ = await api.call("POST", "/api/recurring-tasks", json_body=payload)
    assert status == 400, error
    assert error["error"] == "validation_error" and error["details"]["field"] == field, error
    assert error["message"].startswith(f"{field}:")
    _, listing, _ = await api.call("GET", "/api/recurring-tasks")
    assert listing["total"] == 0
    _, tasks, _ = await api.call("GET", "/api/tasks")
    assert tasks["total"] == 0


async def test_monthly_rules_accept_a_day_the_last_day_or_an_nth_weekday(api):
    start = iso(tomorrow_at(9))
    on_31st = await make_template(api, frequency="MONTHLY", by_month_day=31, start_date=start)
    last = await make_template(api, frequency="MONTHLY", by_month_day="last", start_date=start)
    second_tuesday = await make_template(api, frequency="MONTHLY", by_nth_weekday="2nd TU", start_date=start)
    assert on_31st["by_month_day"] == 31
    assert last["by_month_day"] == -1
    assert second_tuesday["by_nth_weekday"] == "2TU"


async def test_cron_and_rrule_rules_are_accepted_and_shown_back(api):
    cron = await make_template(api, frequency=None, cron="0 9 * * 1-5", timezone="America/New_York")
    rrule = await make_template(api, frequency=None, rrule="RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1;COUNT=6")
    assert (cron["cron"], cron["frequency"], cron["interval"]) == ("0 9 * * 1-5", None, None)
    assert (rrule["rrule"], rrule["count"]) == ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1", 6)


async def test_list_is_newest_first_with_total_and_a_status_filter(api):
    first = await make_template(api, title="one")
    second = await make_template(api, title="two")
    status, listing, _ = await api.call("GET", "/api/recurring-tasks")
    assert status == 200
    assert [t["id"] for t in listing["recurring_tasks"]] == [second["id"], first["id"]]
    assert (listing["total"], listing["limit"], listing["offset"]) == (2, 20, 0)
    await api.call("POST", f"/api/recurring-tasks/{first['id']}/pause")
    _, paused, _ = await api.call("GET", "/api/recurring-tasks", params={"status": "paused"})
    assert [t["id"] for t in paused["recurring_tasks"]] == [first["id"]]
    status, error, _ = await api.call("GET", "/api/recurring-tasks", params={"status": "sleeping"})
    assert status == 400 and error["details"]["field"] == "status"


async def test_patch_changes_the_template_but_not_the_existing_occurrence(api):
    template = await make_template(api, title="old title", tags=["a"])
    status, patched, headers = await api.call("PATCH", f"/api/recurring-tasks/{template['id']}", json_body={
        "title": "new title", "priority": "low", "tags": ["b"], "description": "now with words"})
    assert status == 200, patched
    assert (patched["title"], patched["priority"], patched["tags"], patched["version"]) == (
        "new title", "LOW", ["b"], 2)
    assert headers["ETag"] == '"2"'
    _, listing, _ = await api.call("GET", "/api/tasks", params={"recurring": "true"})
    assert [(t["title"], t["tags"]) for t in listing["tasks"]] == [("old title", ["a"])]


async def test_patching_rule_fields_merges_them_into_the_stored_rule_and_validates_the_result(api):
    template = await make_template(api, frequency="WEEKLY", by_weekday=["MO"], count=5)
    tid = template["id"]
    status, error, _ = await api.call("PATCH", f"/api/recurring-tasks/{tid}", json_body={"interval": 0})
    assert status == 400 and error["details"]["field"] == "interval"
    status, error, _ = await api.call("PATCH", f"/api/recurring-tasks/{tid}", json_body={"timezone": "Nowhere/City"})
    assert status == 400 and error["details"]["field"] == "timezone"

    status, patched, _ = await api.call("PATCH", f"/api/recurring-tasks/{tid}", json_body={"interval": 2})
    assert status == 200 and (patched["interval"], patched["by_weekday"], patched["count"]) == (2, ["MO"], 5)
    # Naming another kind of rule replaces the schedule; start, zone and bounds stay unless given.
    status, patched, _ = await api.call("PATCH", f"/api/recurring-tasks/{tid}",
                                        json_body={"cron": "30 7 * * *", "count": None})
    assert status == 200, patched
    assert (patched["cron"], patched["frequency"], patched["by_weekday"], patched["count"]) == (
        "30 7 * * *", None, None, None)
    assert patched["start_date"] == template["start_date"]


async def test_a_stale_if_match_is_412_and_changes_nothing(api):
    template = await make_template(api)
    tid = template["id"]
    await api.call("PATCH", f"/api/recurring-tasks/{tid}", json_body={"title": "v2"})
    status, error, _ = await api.call("PATCH", f"/api/recurring-tasks/{tid}", json_body={"title": "v3"},
                                      headers={"If-Match": '"1"'})
    assert status == 412 and error["details"] == {"current_version": 2, "expected_version": 1}
    status, error, _ = await api.call("DELETE", f"/api/recurring-tasks/{tid}", headers={"If-Match": '"1"'})
    assert status == 412
    _, current, _ = await api.call("GET", f"/api/recurring-tasks/{tid}")
    assert current["title"] == "v2"


async def test_occurrences_lists_upcoming_due_times_from_the_rule_and_what_was_created(api):
    # Monthly on the 31st in Berlin: February gets its last day, March the 31st again (no drift).
    start = "2030-01-31T09:00:00+01:00"
    template = await make_template(api, frequency="MONTHLY", start_date=start, timezone="Europe/Berlin")
    body = await occurrences(api, template["id"], upcoming="4")
    rule = parse_rule({"frequency": "MONTHLY", "start_date": start, "timezone": "Europe/Berlin"})
    expected = slots(rule, limit=5)
    assert body["upcoming"] == [iso(due) for due in expected[1:]]
    assert body["upcoming"][:2] == ["2030-02-28T08:00:00Z", "2030-03-31T07:00:00Z"]  # CET, then CEST
    assert len(body["past"]) == 1
    past = body["past"][0]
    assert past["due_date"] == iso(expected[0]) and past["completed"] is False and past["deleted"] is False
    assert past["skipped_before"] == [] and uuid.UUID(past["task_id"])

    status, error, _ = await api.call("GET", f"/api/recurring-tasks/{template['id']}/occurrences",
                                      params={"upcoming": "101"})
    assert status == 400 and error["details"]["field"] == "upcoming"


async def test_paused_templates_have_no_upcoming_occurrences(api):
    template = await make_template(api)
    status, paused, _ = await api.call("POST", f"/api/recurring-tasks/{template['id']}/pause")
    assert status == 200 and paused["status"] == "paused" and paused["next_occurrence"] is None
    assert (await occurrences(api, template["id"]))["upcoming"] == []


async def test_another_users_template_answers_404_like_a_missing_one(api, other_api):
    template = await make_template(api)
    tid = template["id"]
    for method, path, body in [
        ("GET", f"/api/recurring-tasks/{tid}", None),
        ("PATCH", f"/api/recurring-tasks/{tid}", {"title": "mine now"}),
        ("DELETE", f"/api/recurring-tasks/{tid}", None),
        ("POST", f"/api/recurring-tasks/{tid}/pause", None),
        ("POST", f"/api/recurring-tasks/{tid}/resume", None),
        ("GET", f"/api/recurring-tasks/{tid}/occurrences", None),
    ]:
        status, error, _ = await other_api.call(method, path, json_body=body)
        assert status == 404, (method, path, error)
        assert error["error"] == "not_found"
        missing = path.replace(tid, str(uuid.uuid4()))
        status, _, _ = await other_api.call(method, missing, json_body=body)
        assert status == 404
    _, listing, _ = await other_api.call("GET", "/api/recurring-tasks")
    assert listing["total"] == 0
    _, still, _ = await api.call("GET", f"/api/recurring-tasks/{tid}")
    assert still["title"] == template["title"] and still["status"] == "active"
    status, _, _ = await api.call("GET", "/api/recurring-tasks/not-a-uuid")
    assert status == 404


async def test_a_start_date_in_the_past_makes_an_overdue_first_occurrence(api):
    start = tomorrow_at(9) - timedelta(days=10)
    template = await make_template(api, start_date=iso(start))
    assert parse(template["next_occurrence"]) == start
    _, listing, _ = await api.call("GET", "/api/tasks", params={"recurring": "true", "overdue": "true"})
    assert listing["total"] == 1
