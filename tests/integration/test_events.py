"""Every accepted write becomes exactly one event on `task-events`, keyed by user, then a client update."""

from __future__ import annotations

import pytest

from streams.schemas import task_update_validator, validator_for


pytestmark = pytest.mark.integration


async def mutate_everything(api) -> str:
    task = await api.create(title="ship it", tags=["work"])
    tid = task["id"]
    await api.call("PATCH", f"/api/tasks/{tid}", json_body={"title": "ship it now"})
    await api.call("POST", f"/api/tasks/{tid}/complete")
    await api.call("POST", f"/api/tasks/{tid}/uncomplete")
    await api.call("PATCH", f"/api/tasks/{tid}/priority", json_body={"priority": "high"})
    await api.call("PATCH", f"/api/tasks/{tid}/due-date", json_body={"due_date": "2027-01-01T00:00:00Z"})
    await api.call("POST", f"/api/tasks/{tid}/tags", json_body={"tags": ["urgent"]})
    await api.call("DELETE", f"/api/tasks/{tid}/tags/work")
    await api.call("DELETE", f"/api/tasks/{tid}")
    return tid


EXPECTED_TYPES = ["created", "updated", "completed", "uncompleted", "updated", "updated", "updated", "updated",
                  "deleted"]


async def test_one_event_per_mutation_with_user_key_and_full_envelope(api, broker, read_topic):
    tid = await mutate_everything(api)
    events = await read_topic(broker.url, "task-events", key=api.user_id, expect=len(EXPECTED_TYPES) + 1,
                              timeout=8)
    values = [e["value"] for e in events]
    assert [v["event_type"] for v in values] == EXPECTED_TYPES, "exactly one event per mutation, in order"
    assert len({v["event_id"] for v in values}) == len(values)
    assert len({e["partition"] for e in events}) == 1, "one user's events share a partition"
    assert [v["seq"] for v in values] == list(range(1, len(values) + 1))
    for event in events:
        value = event["value"]
        assert event["key"] == api.user_id == value["user_id"]
        assert value["task_id"] == tid and value["schema_version"] == 1
        assert event["headers"]["event_type"] == value["event_type"].encode()
        validator_for(value["event_type"]).validate(value)
    assert values[0]["before"] is None and values[0]["after"]["title"] == "ship it"
    assert values[1]["changes"] == {"title": {"from": "ship it", "to": "ship it now"}}
    assert values[-1]["after"] is None and values[-1]["before"]["id"] == tid


async def test_events_match_the_audit_trail(api, broker, read_topic):
    tid = await mutate_everything(api)
    events = await read_topic(broker.url, "task-events", key=api.user_id, expect=len(EXPECTED_TYPES))
    _, history, _ = await api.call("GET", f"/api/audit/tasks/{tid}")
    assert [e["value"]["event_id"] for e in events] == [e["id"] for e in history["events"]]
    assert [e["value"]["changes"] for e in events] == [e["changes"] for e in history["events"]]


async def test_fan_out_publishes_client_ready_updates_keyed_by_user(api, broker, read_topic):
    task = await api.create(title="live")
    await api.call("POST", f"/api/tasks/{task['id']}/complete")
    updates = await read_topic(broker.url, "task-updates", key=api.user_id, expect=2)
    assert [u["value"]["type"] for u in updates] == ["task.created", "task.completed"]
    assert [u["value"]["seq"] for u in updates] == [1, 2]
    assert updates[1]["value"]["task"]["completed"] is True
    assert all(u["key"] == api.user_id for u in updates)
    for update in updates:
        task_update_validator().validate(update["value"])


async def test_an_undecodable_event_goes_to_the_dead_letter_topic_and_the_worker_carries_on(api, broker, read_topic):
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("task-events", b"{not json", key=api.user_id.encode())
    finally:
        await producer.stop()
    parked = await read_topic(broker.url, "task-events-dlq", key=api.user_id, expect=1, raw=True)
    assert parked and parked[0]["value"] == b"{not json"
    assert b"not JSON" in parked[0]["headers"]["error"]
    task = await api.create(title="after the poison pill")
    updates = await read_topic(broker.url, "task-updates", key=api.user_id, expect=1)
    assert updates[0]["value"]["task"]["id"] == task["id"]
