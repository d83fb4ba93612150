"""Metrics and logs an operator relies on: counters that move by the right amounts, JSON log lines."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.metrics import FAMILIES

#: A path segment that is a value, not a template: a UUID, a number, or a tag someone asked for.
ID_SEGMENT = re.compile(r"/(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-|\d+(?:/|$)|[^/{}]*%)")

pytestmark = pytest.mark.integration


async def scrape(api) -> dict[tuple[str, tuple], float]:
    status, text, headers = await api.call("GET", "/metrics", auth=False)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_http_and_publish_counters_move_by_the_number_of_requests(api):
    before = await scrape(api)
    for _ in range(3):
        await api.create(title="counted")
    await api.call("GET", "/api/tasks/not-a-uuid")
    await api.call("GET", "/api/tasks/not-a-uuid")
    await asyncio.sleep(1.0)  # the relay confirms asynchronously
    after = await scrape(api)

    created = dict(route="/api/tasks", method="POST", status="201")
    assert value(after, "taskstream_http_requests_total", **created) - value(
        before, "taskstream_http_requests_total", **created) == 3
    missing = dict(route="/api/tasks/{task_id}", method="GET", status="404")
    assert value(after, "taskstream_http_requests_total", **missing) - value(
        before, "taskstream_http_requests_total", **missing) == 2
    latency = dict(route="/api/tasks", method="POST")
    assert value(after, "taskstream_http_request_duration_seconds_count", **latency) - value(
        before, "taskstream_http_request_duration_seconds_count", **latency) == 3
    ok = dict(topic="task-events", outcome="ok")
    assert value(after, "taskstream_kafka_publish_total", **ok) - value(before, "taskstream_kafka_publish_total",
                                                                       **ok) >= 3
    routes = {dict(labels)["route"] for (name, labels) in after if name == "taskstream_http_requests_total"}
    # Other tests hit every route of the session worker, ids included: none may show up as a label.
    concrete = [route for route in routes if ID_SEGMENT.search(route)]
    assert "/api/tasks/{task_id}" in routes and not concrete, f"route labels are templates, never ids: {concrete}"


async def test_every_metric_family_is_exposed(api):
    _, text, _ = await api.call("GET", "/metrics", auth=False)
    names = {family.name for family in text_string_to_metric_families(text)}
    missing = [f for f in FAMILIES if f.removesuffix("_total") not in names and f not in names]
    assert not missing
    assert "process_resident_memory_bytes" in text


async def test_outbox_backlog_and_agent_counters_are_reported(api):
    # Deltas, not totals: earlier tests on the session worker already moved every counter.
    fan_out = dict(agent="fan_out_updates")
    before = await scrape(api)
    await api.create(title="flows through fan-out")
    deadline = time.monotonic() + 15
    while True:
        samples = await scrape(api)
        processed = value(samples, "taskstream_events_processed_total", **fan_out) - value(
            before, "taskstream_events_processed_total", **fan_out)
        if processed >= 1 and ("taskstream_outbox_backlog", ()) in samples or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert processed >= 1, "fan-out counted the event this test caused"
    assert ("taskstream_outbox_backlog", ()) in samples
    queries = "taskstream_db_query_duration_seconds_count"
    assert value(samples, queries) - value(before, queries) > 0, "the create's statements were timed"


async def test_log_lines_are_json_and_carry_the_request_and_user(api, worker):
    await api.call("GET", "/api/tasks", headers={"X-Request-ID": "log-check-42"})
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in worker.log_path.read_text().splitlines() if line.startswith("{")]
        records = [json.loads(line) for line in lines]
        mine = [r for r in records if r.get("request_id") == "log-check-42"]
        if mine or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert mine, "the access log line carries the request id"
    assert mine[0]["user_id"] == api.user_id
    assert mine[0]["route"] == "/api/tasks" and mine[0]["status"] == 200
    assert api.token not in worker.log_path.read_text(), "tokens never reach the logs"
