"""A template's VTODO leaves out, with EXDATE in DTSTART's zone, the slots its tasks already stand for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from itertools import islice
from types import SimpleNamespace

from dateutil.rrule import rruleset, rrulestr
from icalendar import Calendar

from streams.rules.recurrence import parse_rule, slots
from web.ical import feed

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def template():
    return SimpleNamespace(id=uuid.uuid4(), title="t", description=None, priority="MEDIUM", tags=[],
                           created_at=NOW, updated_at=NOW)


def expand(todo, count: int) -> list[datetime]:
    instances = rruleset()
    instances.rrule(rrulestr(todo["RRULE"].to_ical().decode(), dtstart=todo.decoded("DTSTART")))
    exdates = todo.get("EXDATE") or []
    for line in exdates if isinstance(exdates, list) else [exdates]:
        for value in line.dts:
            instances.exdate(value.dt)
    return [at.astimezone(UTC) for at in islice(iter(instances), count)]


def test_taken_slots_of_a_zoned_rule_are_excluded_across_a_dst_change():
    # Daily 09:00 in Berlin around the end of March: the UTC hour changes, the exclusion must not miss.
    rule = parse_rule({"frequency": "DAILY", "start_date": "2030-03-29T09:00:00+01:00", "timezone": "Europe/Berlin"})
    first = slots(rule, limit=6)
    mine = template()
    taken = [first[0], first[2]]
    todo = Calendar.from_ical(feed([], [(mine, rule)], now=NOW, name="x", taken={mine.id: taken})).walk("VTODO")[0]
    exdate = next(ln for ln in todo.to_ical().decode().splitlines() if ln.startswith("EXDATE"))
    assert exdate.startswith("EXDATE;TZID=Europe/Berlin:"), exdate
    assert expand(todo, 4) == [first[1], first[3], first[4], first[5]]
    assert first[3] - first[1] == timedelta(days=2) - timedelta(hours=1)


def test_without_taken_slots_there_is_no_exdate():
    rule = parse_rule({"frequency": "DAILY", "start_date": "2030-01-01T09:00:00Z"})
    todo = Calendar.from_ical(feed([], [(template(), rule)], now=NOW, name="x", taken={})).walk("VTODO")[0]
    assert "EXDATE" not in todo
    assert expand(todo, 3) == slots(rule, limit=3)
