"""A recurring task appears in the calendar feed once per due time: the open occurrence as its own VTODO,
the template's RRULE for the rest, never both for the same slot (session worker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import takewhile

import pytest
from dateutil.rrule import rruleset, rrulestr
from icalendar import Calendar
from recurring_support import eventually, iso, make_template, tomorrow_at

pytestmark = pytest.mark.integration

DAYS = 6


async def feed(api) -> Calendar:
    status, body, _ = await api.call("GET", "/api/calendar.ics")
    assert status == 200, body
    return Calendar.from_ical(body)


def series(calendar: Calendar, template_id: str, *, until: datetime) -> list[datetime]:
    """Every due time the feed shows for the template, up to `until`: its open occurrences' DUE and the
    instances a calendar app expands from its RRULE (minus EXDATE), sorted, duplicates kept."""
    shown: list[datetime] = []
    for todo in calendar.walk("VTODO"):
        if str(todo["UID"]) == f"recurring-{template_id}@taskstream":
            dtstart = todo.decoded("DTSTART")
            instances = rruleset()
            instances.rrule(rrulestr(todo["RRULE"].to_ical().decode(), dtstart=dtstart))
            exdates = todo.get("EXDATE") or []
            for line in exdates if isinstance(exdates, list) else [exdates]:
                for value in line.dts:
                    instances.exdate(value.dt)
            shown += [at.astimezone(UTC) for at in takewhile(lambda at: at <= until, iter(instances))]
        elif str(todo.get("RELATED-TO", "")) == f"recurring-{template_id}@taskstream":
            shown.append(todo.decoded("DUE").astimezone(UTC))
    return sorted(shown)


async def test_the_open_occurrence_of_a_recurring_task_is_listed_once_not_again_by_the_rrule(api):
    first = tomorrow_at(9)
    template = await make_template(api, title="stretch", start_date=iso(first))
    horizon = first + timedelta(days=DAYS - 1)
    shown = series(await feed(api), template["id"], until=horizon)
    assert shown == [first + timedelta(days=d) for d in range(DAYS)]


async def test_a_finished_occurrence_is_gone_and_its_successor_is_listed_once(api):
    first = tomorrow_at(9)
    template = await make_template(api, title="stretch", start_date=iso(first))
    status, tasks, _ = await api.call("GET", "/api/tasks", params={"recurring": "true"})
    assert status == 200 and len(tasks["tasks"]) == 1, tasks
    status, body, _ = await api.call("POST", f"/api/tasks/{tasks['tasks'][0]['id']}/complete")
    assert status == 200, body

    async def successor():
        _, listed, _ = await api.call("GET", "/api/tasks", params={"recurring": "true", "completed": "false"})
        return listed["tasks"]

    await eventually(successor, what="the next occurrence")
    horizon = first + timedelta(days=DAYS - 1)
    shown = series(await feed(api), template["id"], until=horizon)
    assert shown == [first + timedelta(days=d) for d in range(1, DAYS)]
