"""The recurrence agent end to end: a finished occurrence leads to the next one, with a real broker and worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from recurring_support import (
    iso,
    last_event_id,
    make_template,
    occurrences,
    parse,
    tomorrow_at,
    wait_for_occurrences,
    wait_processed,
)

from streams.rules.recurrence import next_occurrence, parse_rule, slots

pytestmark = pytest.mark.integration


async def head_task(api, template_id: str) -> dict:
    past = (await occurrences(api, template_id))["past"]
    status, task, _ = await api.call("GET", f"/api/tasks/{past[-1]['task_id']}")
    assert status == 200, task
    return task


async def test_completing_an_occurrence_creates_the_next_one_at_the_next_slot(api):
    start = tomorrow_at(9)
    template = await make_template(api, frequency="WEEKLY", by_weekday=["MO", "TH"], start_date=iso(start),
                                   timezone="Europe/Berlin")
    first = await head_task(api, template["id"])
    await api.call("POST", f"/api/tasks/{first['id']}/complete")

    past = await wait_for_occurrences(api, template["id"], 2)
    expected = slots(parse_rule({"frequency": "WEEKLY", "by_weekday": ["MO", "TH"], "start_date": iso(start),
                                 "timezone": "Europe/Berlin"}), limit=2)
    assert [parse(p["due_date"]) for p in past] == expected
    assert past[0]["completed"] is True and past[1]["completed"] is False
    _, second, _ = await api.call("GET", f"/api/tasks/{past[1]['task_id']}")
    assert second["recurring_task_id"] == template["id"] and second["title"] == template["title"]
    _, history, _ = await api.call("GET", f"/api/audit/tasks/{second['id']}")
    assert [e["event_type"] for e in history["events"]] == ["created"], "its own audit row"
    _, current, _ = await api.call("GET", f"/api/recurring-tasks/{template['id']}")
    assert parse(current["next_occurrence"]) == expected[1] and current["occurrences_created"] == 2


async def test_the_next_occurrence_is_published_as_its_own_created_event(api, broker, read_topic):
    template = await make_template(api)
    first = await head_task(api, template["id"])
    await api.call("POST", f"/api/tasks/{first['id']}/complete")
    past = await wait_for_occurrences(api, template["id"], 2)
    events = await read_topic(broker.url, "task-events", key=api.user_id, expect=3)
    assert [(e["value"]["event_type"], e["value"]["task_id"]) for e in events] == [
        ("created", first["id"]), ("completed", first["id"]), ("created", past[1]["task_id"])]
    assert events[2]["value"]["after"]["recurring_task_id"] == template["id"]


async def test_deleting_an_occurrence_lets_the_schedule_go_on(api):
    start = tomorrow_at(7, 30)
    template = await make_template(api, frequency="DAILY", interval=2, start_date=iso(start))
    first = await head_task(api, template["id"])
    status, _, _ = await api.call("DELETE", f"/api/tasks/{first['id']}")
    assert status == 204
    past = await wait_for_occurrences(api, template["id"], 2)
    assert past[0]["deleted"] is True and past[0]["completed"] is False
    assert parse(past[1]["due_date"]) == start + timedelta(days=2)


async def test_repeat_from_completion_date_counts_from_when_the_task_was_done(api):
    # Due in ten days, done today: the next is 3 days after today (stepping past the finished slot).
    start = tomorrow_at(9) + timedelta(days=9)
    fields = {"frequency": "DAILY", "interval": 3, "start_date": iso(start), "repeat_from": "completion_date"}
    template = await make_template(api, **fields)
    first = await head_task(api, template["id"])
    _, done, _ = await api.call("POST", f"/api/tasks/{first['id']}/complete")
    past = await wait_for_occurrences(api, template["id"], 2)
    completed_at = parse(done["completed_at"])
    expected = next_occurrence(parse_rule(fields), finished_slot=start, completed_at=completed_at,
                               now=completed_at, finished_index=0)
    assert parse(past[1]["due_date"]) == expected.due
    by_due_date = start + timedelta(days=3)
    assert expected.due != by_due_date, "the test must tell the two modes apart"


async def test_an_occurrence_finished_late_skips_the_past_slots_and_records_them(api):
    # Daily at a time of day 12 hours from now, starting 3.5 days ago: three slots are already past.
    start = (datetime.now(UTC) - timedelta(days=3, hours=12)).replace(microsecond=0)
    template = await make_template(api, frequency="DAILY", start_date=iso(start))
    first = await head_task(api, template["id"])
    await api.call("POST", f"/api/tasks/{first['id']}/complete")
    past = await wait_for_occurrences(api, template["id"], 2)

    nxt = parse(past[1]["due_date"])
    assert nxt == start + timedelta(days=4) and nxt > datetime.now(UTC)
    assert past[1]["skipped_before"] == [iso(start + timedelta(days=d)) for d in (1, 2, 3)]
    assert past[1]["skipped_truncated"] is False
    _, tasks, _ = await api.call("GET", "/api/tasks", params={"recurring": "true"})
    assert tasks["total"] == 2, "skipped slots do not become tasks"


async def test_count_ends_the_template_after_its_last_occurrence(api, postgres):
    template = await make_template(api, count=2)
    for n in (1, 2):
        task = await head_task(api, template["id"])
        await api.call("POST", f"/api/tasks/{task['id']}/complete")
        if n == 1:
            await wait_for_occurrences(api, template["id"], 2)
    await wait_processed(postgres, [await last_event_id(api, task["id"])])
    _, current, _ = await api.call("GET", f"/api/recurring-tasks/{template['id']}")
    assert (current["status"], current["next_occurrence"], current["occurrences_created"]) == ("ended", None, 2)
    body = await occurrences(api, template["id"])
    assert len(body["past"]) == 2 and body["upcoming"] == []
    status, error, _ = await api.call("POST", f"/api/recurring-tasks/{template['id']}/resume")
    assert status == 409 and error["error"] == "conflict"


async def test_end_date_ends_the_template_and_a_later_end_date_revives_it(api, postgres):
    start = tomorrow_at(9)
    template = await make_template(api, start_date=iso(start), end_date=iso(start + timedelta(hours=1)))
    task = await head_task(api, template["id"])
    await api.call("POST", f"/api/tasks/{task['id']}/complete")
    await wait_processed(postgres, [await last_event_id(api, task["id"])])
    _, current, _ = await api.call("GET", f"/api/recurring-tasks/{template['id']}")
    assert current["status"] == "ended" and current["occurrences_created"] == 1

    status, revived, _ = await api.call("PATCH", f"/api/recurring-tasks/{template['id']}",
                                        json_body={"end_date": None})
    assert status == 200 and revived["status"] == "active"
    assert parse(revived["next_occurrence"]) == start + timedelta(days=1)
    assert len((await occurrences(api, template["id"]))["past"]) == 2


async def test_a_paused_template_creates_nothing_and_resuming_continues_from_the_next_future_slot(api, postgres):
    start = (datetime.now(UTC) - timedelta(days=2, hours=12)).replace(microsecond=0)
    template = await make_template(api, start_date=iso(start))
    status, paused, _ = await api.call("POST", f"/api/recurring-tasks/{template['id']}/pause")
    assert status == 200 and paused["status"] == "paused" and paused["version"] == 2
    task = await head_task(api, template["id"])
    await api.call("POST", f"/api/tasks/{task['id']}/complete")
    await wait_processed(postgres, [await last_event_id(api, task["id"])])
    assert len((await occurrences(api, template["id"]))["past"]) == 1, "paused: no new occurrence"

    status, resumed, _ = await api.call("POST", f"/api/recurring-tasks/{template['id']}/resume")
    assert status == 200 and resumed["status"] == "active"
    past = (await occurrences(api, template["id"]))["past"]
    assert len(past) == 2, "resuming creates the occurrence at once"
    assert parse(past[1]["due_date"]) == start + timedelta(days=3)
    assert past[1]["skipped_before"] == [iso(start + timedelta(days=d)) for d in (1, 2)]
    assert parse(resumed["next_occurrence"]) == start + timedelta(days=3)


async def test_resuming_while_the_newest_occurrence_is_open_creates_nothing(api):
    template = await make_template(api)
    await api.call("POST", f"/api/recurring-tasks/{template['id']}/pause")
    _, again, _ = await api.call("POST", f"/api/recurring-tasks/{template['id']}/pause")
    assert again["version"] == 2, "pausing twice changes nothing"
    _, resumed, _ = await api.call("POST", f"/api/recurring-tasks/{template['id']}/resume")
    assert resumed["next_occurrence"] == template["next_occurrence"]
    assert len((await occurrences(api, template["id"]))["past"]) == 1


async def test_template_edits_apply_to_occurrences_created_afterwards(api):
    start = tomorrow_at(9)
    template = await make_template(api, title="old", tags=["a"], frequency="WEEKLY", start_date=iso(start))
    first = await head_task(api, template["id"])
    # A new rule re-anchors from the next slot: the open occurrence keeps its due date.
    await api.call("PATCH", f"/api/recurring-tasks/{template['id']}", json_body={
        "title": "new", "tags": ["b"], "priority": "high", "frequency": "DAILY"})
    assert (await head_task(api, template["id"]))["due_date"] == first["due_date"]
    await api.call("POST", f"/api/tasks/{first['id']}/complete")
    past = await wait_for_occurrences(api, template["id"], 2)
    assert parse(past[1]["due_date"]) == start + timedelta(days=1), "daily now, not weekly"
    _, second, _ = await api.call("GET", f"/api/tasks/{past[1]['task_id']}")
    assert (second["title"], second["tags"], second["priority"]) == ("new", ["b"], "HIGH")
    _, first_now, _ = await api.call("GET", f"/api/tasks/{first['id']}")
    assert (first_now["title"], first_now["tags"]) == ("old", ["a"])


async def test_deleting_a_template_stops_it_and_unlinks_its_tasks_with_an_audit_row_each(api):
    template = await make_template(api)
    first = await head_task(api, template["id"])
    await api.call("POST", f"/api/tasks/{first['id']}/complete")
    past = await wait_for_occurrences(api, template["id"], 2)

    status, _, _ = await api.call("DELETE", f"/api/recurring-tasks/{template['id']}")
    assert status == 204
    status, _, _ = await api.call("GET", f"/api/recurring-tasks/{template['id']}")
    assert status == 404
    for occurrence in past:
        status, task, _ = await api.call("GET", f"/api/tasks/{occurrence['task_id']}")
        assert status == 200 and task["recurring_task_id"] is None, "the tasks stay, unlinked"
        _, history, _ = await api.call("GET", f"/api/audit/tasks/{task['id']}")
        last = history["events"][-1]
        assert last["event_type"] == "updated"
        assert last["changes"] == {"recurring_task_id": {"from": template["id"], "to": None}}

    # Finishing a formerly linked task no longer creates anything. A sentinel template completed
    # afterwards proves the agent got past that event: one user's events are handled in order.
    await api.call("POST", f"/api/tasks/{past[1]['task_id']}/complete")
    sentinel = await make_template(api, title="sentinel")
    await api.call("POST", f"/api/tasks/{(await head_task(api, sentinel['id']))['id']}/complete")
    await wait_for_occurrences(api, sentinel["id"], 2)
    _, listing, _ = await api.call("GET", "/api/tasks", params={"recurring": "false"})
    assert listing["total"] == 2
