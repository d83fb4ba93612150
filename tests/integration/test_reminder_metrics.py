"""The reminders dashboard and the reminders-late alert have data: their metrics move when a reminder is
delivered or an occurrence is created, by what this test caused (deltas, not the session's totals)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from recurring_support import make_template, occurrences, wait_for_occurrences

pytestmark = pytest.mark.integration

LEAD = timedelta(seconds=2)  # how far ahead reminders are set: enough for the requests to land first


async def scrape(api) -> dict[tuple[str, tuple], float]:
    status, text, _ = await api.call("GET", "/metrics", auth=False)
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def delta(after, before, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def counted(api, before, name: str, expected: float, *, timeout: float = 15) -> dict:
    """The samples once `name` moved by `expected` since `before` (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        after = await scrape(api)
        if delta(after, before, name) >= expected or time.monotonic() > deadline:
            return after
        await asyncio.sleep(0.1)


async def test_delivered_reminders_move_the_sent_counter_and_the_lateness_histogram(api):
    before = await scrape(api)
    due = datetime.now(UTC) + timedelta(hours=1)
    tasks = [await api.create(title=f"metric {n}", due_date=due.isoformat()) for n in range(2)]
    when = datetime.now(UTC) + LEAD
    for task in tasks:
        status, body, _ = await api.call("POST", f"/api/tasks/{task['id']}/reminders",
                                         json_body={"remind_at": when.isoformat()})
        assert status == 201, body

    after = await counted(api, before, "taskstream_reminders_sent_total", 2)
    _, listed, _ = await api.call("GET", "/api/notifications")
    assert len(listed["notifications"]) == 1, "two reminders due together make one notification"
    moved = {
        "sent": delta(after, before, "taskstream_reminders_sent_total"),
        "lateness count": delta(after, before, "taskstream_reminder_lateness_seconds_count"),
        # The dashboard's late share and the alert's p99 read the buckets: on time means under 60 s.
        "lateness under 60 s": delta(after, before, "taskstream_reminder_lateness_seconds_bucket", le="60.0"),
        "lateness bucket +Inf": delta(after, before, "taskstream_reminder_lateness_seconds_bucket", le="+Inf"),
    }
    # Counted per reminder, as lateness is measured per reminder (sent_at - remind_at).
    assert moved == dict.fromkeys(moved, 2.0)
    lateness = delta(after, before, "taskstream_reminder_lateness_seconds_sum")
    assert 0 <= lateness < 2 * 5, f"two reminders delivered {lateness} s late in all"


async def test_created_occurrences_move_the_occurrences_counter(api):
    before = await scrape(api)
    template = await make_template(api, title="counted series")  # the first occurrence, by the API
    head = (await occurrences(api, template["id"]))["past"][-1]["task_id"]
    status, _, _ = await api.call("POST", f"/api/tasks/{head}/complete")
    assert status == 200
    await wait_for_occurrences(api, template["id"], 2)  # the next one, by the recurrence agent
    after = await counted(api, before, "taskstream_occurrences_created_total", 2)
    created = delta(after, before, "taskstream_occurrences_created_total")
    assert created == 2, "one occurrence by the API and one by the agent"
