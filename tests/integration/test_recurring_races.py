"""Recurring races: one occurrence per slot (repeats, replays, two workers); a series deleted while its tasks change."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from recurring_support import (
    last_event_id,
    make_template,
    occurrences,
    sql,
    wait_for_occurrences,
    wait_processed,
)
from stack import Api, Worker

pytestmark = pytest.mark.integration


async def head_task_id(api, template_id: str) -> str:
    return (await occurrences(api, template_id))["past"][-1]["task_id"]


async def occurrence_counts(database_url: str, template_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per template: (occurrence rows, tasks linked to it)."""
    rows = await sql(
        database_url,
        "SELECT t.id::text AS id, "
        "(SELECT count(*) FROM recurrence_occurrences o WHERE o.template_id = t.id) AS slots, "
        "(SELECT count(*) FROM tasks k WHERE k.recurring_task_id = t.id) AS tasks "
        "FROM recurring_tasks t WHERE t.id = ANY($1::uuid[])", template_ids,
    )
    return {row["id"]: (row["slots"], row["tasks"]) for row in rows}


async def settle(api) -> None:
    """Wait until the agent has handled everything this user sent so far: one user's events are
    consumed in order, so a sentinel template's next occurrence appearing proves it."""
    sentinel = await make_template(api, title="sentinel")
    await api.call("POST", f"/api/tasks/{await head_task_id(api, sentinel['id'])}/complete")
    await wait_for_occurrences(api, sentinel["id"], 2)


async def completion_event(broker_url: str, read_topic, user_id: str, task_id: str) -> tuple[bytes, dict]:
    """The raw completion event as the relay published it (the user's second event: created, completed)."""
    events = await read_topic(broker_url, "task-events", key=user_id, expect=2, raw=True)
    for event in events:
        value = json.loads(event["value"])
        if value["event_type"] == "completed" and value["task_id"] == task_id:
            return event["value"], value
    raise AssertionError(f"no completed event for task {task_id} on task-events")


async def send(broker, user_id: str, values: list[bytes], *, partitions: list[int] | None = None) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        for value in values:
            for partition in partitions or [None]:
                await producer.send_and_wait("task-events", value, key=user_id.encode(), partition=partition)
    finally:
        await producer.stop()


async def test_complete_uncomplete_complete_at_once_creates_one_occurrence_for_the_next_slot(api, postgres):
    template = await make_template(api)
    task_id = await head_task_id(api, template["id"])
    for action in ("complete", "uncomplete", "complete"):
        status, _, _ = await api.call("POST", f"/api/tasks/{task_id}/{action}")
        assert status == 200
    _, history, _ = await api.call("GET", f"/api/audit/tasks/{task_id}")
    completions = [e["id"] for e in history["events"] if e["event_type"] == "completed"]
    assert len(completions) == 2
    await wait_processed(postgres, completions)
    assert await occurrence_counts(postgres, [template["id"]]) == {template["id"]: (2, 2)}


async def test_completing_again_after_the_next_occurrence_exists_creates_nothing(api, postgres):
    template = await make_template(api)
    task_id = await head_task_id(api, template["id"])
    await api.call("POST", f"/api/tasks/{task_id}/complete")
    await wait_for_occurrences(api, template["id"], 2)
    await api.call("POST", f"/api/tasks/{task_id}/uncomplete")
    await api.call("POST", f"/api/tasks/{task_id}/complete")
    await wait_processed(postgres, [await last_event_id(api, task_id)])
    assert await occurrence_counts(postgres, [template["id"]]) == {template["id"]: (2, 2)}
    body = await occurrences(api, template["id"])
    assert [p["completed"] for p in body["past"]] == [True, False]


async def test_a_replayed_event_creates_no_second_occurrence(api, postgres, broker, read_topic, worker):
    template = await make_template(api)
    task_id = await head_task_id(api, template["id"])
    await api.call("POST", f"/api/tasks/{task_id}/complete")
    await wait_for_occurrences(api, template["id"], 2)
    raw, value = await completion_event(broker.url, read_topic, api.user_id, task_id)

    await send(broker, api.user_id, [raw, raw])
    await settle(api)
    assert await occurrence_counts(postgres, [template["id"]]) == {template["id"]: (2, 2)}
    rows = await sql(postgres, "SELECT count(*) AS n FROM processed_events WHERE event_id = $1::uuid",
                     value["event_id"])
    assert rows[0]["n"] == 1
    assert f"event {value['event_id']}" in worker.log_path.read_text(), "the dedupe by event id said so"


async def test_a_copy_of_an_event_under_a_new_event_id_creates_no_second_occurrence(api, postgres, broker,
                                                                                     read_topic):
    template = await make_template(api)
    task_id = await head_task_id(api, template["id"])
    await api.call("POST", f"/api/tasks/{task_id}/complete")
    await wait_for_occurrences(api, template["id"], 2)
    _, value = await completion_event(broker.url, read_topic, api.user_id, task_id)

    forged = json.dumps({**value, "event_id": str(uuid.uuid4())}).encode()
    await send(broker, api.user_id, [forged])
    await settle(api)
    assert await occurrence_counts(postgres, [template["id"]]) == {template["id"]: (2, 2)}


async def test_two_workers_handling_the_same_completions_at_once_create_one_occurrence_per_slot(
    postgres, broker, worker, http, read_topic, tmp_path
):
    second = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path / "second-worker")
    try:
        second.start()
        await asyncio.sleep(1)  # ready means joined; give the first worker's side of the rebalance a moment
        users = [Api(http, worker.url, f"race-{uuid.uuid4()}") for _ in range(8)]
        templates = [await make_template(api) for api in users]
        heads = [await head_task_id(api, t["id"]) for api, t in zip(users, templates)]
        await asyncio.gather(*(api.call("POST", f"/api/tasks/{task_id}/complete") for api, task_id in zip(users, heads)))

        # Every completion again on every partition, as itself and under a new event id: both workers
        # now hold copies of the same completions and race to apply them.
        forged_ids = []
        for api, task_id in zip(users, heads):
            raw, value = await completion_event(broker.url, read_topic, api.user_id, task_id)
            forged_id = str(uuid.uuid4())
            forged_ids.append(forged_id)
            forged = json.dumps({**value, "event_id": forged_id}).encode()
            await send(broker, api.user_id, [raw, forged], partitions=[0, 1, 2, 3])
        await wait_processed(postgres, forged_ids, timeout=30)

        ids = [t["id"] for t in templates]
        assert await occurrence_counts(postgres, ids) == {tid: (2, 2) for tid in ids}
        logs = [worker.log_path.read_text(), second.log_path.read_text()]
        assert all("was applied before" in log for log in logs), "both workers handled copies"
    finally:
        second.stop()


async def series_of_three(api) -> tuple[dict, list[str]]:
    """A template with three occurrences: two completed and the open head."""
    template = await make_template(api, title="series to delete")
    for count in (2, 3):
        await api.call("POST", f"/api/tasks/{await head_task_id(api, template['id'])}/complete")
        await wait_for_occurrences(api, template["id"], count)
    return template, [p["task_id"] for p in (await occurrences(api, template["id"]))["past"]]


async def test_deleting_a_series_while_its_tasks_change_answers_no_500_and_detaches_every_task(api, postgres):
    """The delete unlinks each task (a write under the task's lock) while requests change the same
    tasks: done in opposite orders this deadlocked, and the 40P01 reached the client as a 500."""
    rounds, per_round = 3, 4
    for _ in range(rounds):
        series = await asyncio.gather(*(series_of_three(api) for _ in range(per_round)))
        calls, deleted_tasks = [], set()
        for template, task_ids in series:
            calls.append(api.call("DELETE", f"/api/recurring-tasks/{template['id']}"))
            for n, task_id in enumerate(task_ids):
                calls.append(api.call("PATCH", f"/api/tasks/{task_id}", json_body={"title": f"changed {n}"}))
                calls.append(api.call("POST", f"/api/tasks/{task_id}/{'uncomplete' if n < 2 else 'complete'}"))
                calls.append(api.call("PATCH", f"/api/tasks/{task_id}/priority", json_body={"priority": "HIGH"}))
            calls.append(api.call("DELETE", f"/api/tasks/{task_ids[0]}"))
            deleted_tasks.add(task_ids[0])
        answers = await asyncio.gather(*calls)
        failed = [(status, body) for status, body, _ in answers if status >= 500]
        assert not failed, f"{len(failed)} of {len(answers)} requests failed: {failed[:3]}"
        assert all(status in (200, 204, 404) for status, _, _ in answers), [a[:2] for a in answers if a[0] >= 400]

        await settle(api)  # the completions above went through the recurrence agent
        for template, task_ids in series:
            status, _, _ = await api.call("GET", f"/api/recurring-tasks/{template['id']}")
            assert status == 404, "the series is gone"
            for task_id in task_ids:
                status, task, _ = await api.call("GET", f"/api/tasks/{task_id}")
                if task_id in deleted_tasks:
                    assert status == 404
                else:
                    assert status == 200 and task["recurring_task_id"] is None, task
        linked = await sql(postgres, "SELECT count(*) AS n FROM tasks WHERE recurring_task_id = ANY($1::uuid[])",
                           [template["id"] for template, _ in series])
        assert linked[0]["n"] == 0, "no task is left linked to a deleted series"
