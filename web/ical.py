"""The iCalendar (RFC 5545) feed: open tasks with due dates as VTODOs, recurring templates with their RRULE
(minus the slots their tasks stand for)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Todo, vRecur

from streams.rules.recurrence import Rule, ical_dtstart, to_rrule

PRODID = "-//taskstream//tasks//EN"
CONTENT_TYPE = "text/calendar"
#: RFC 5545 PRIORITY: 1 is the highest, 9 the lowest.
ICAL_PRIORITY = {"HIGH": 1, "MEDIUM": 5, "LOW": 9}


def task_uid(task_id: Any) -> str:
    return f"{task_id}@taskstream"


def template_uid(template_id: Any) -> str:
    return f"recurring-{template_id}@taskstream"


def dtstart(rule: Rule) -> datetime:
    """The instant `ical_dtstart` names, as a datetime icalendar writes back as the same DTSTART line."""
    line = ical_dtstart(rule)
    head, _, value = line.partition(":")
    wall = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
    if value.endswith("Z"):
        return wall.replace(tzinfo=UTC)
    tzid = head.partition("TZID=")[2]
    return wall.replace(tzinfo=ZoneInfo(tzid))


def _common(todo: Todo, item: Any, *, now: datetime) -> None:
    todo.add("dtstamp", now.astimezone(UTC))
    todo.add("summary", item.title)
    if item.description:
        todo.add("description", item.description)
    todo.add("priority", ICAL_PRIORITY.get(item.priority, 0))
    if item.tags:
        todo.add("categories", list(item.tags))
    todo.add("created", item.created_at.astimezone(UTC))
    todo.add("last-modified", item.updated_at.astimezone(UTC))


def task_todo(task: Any, *, now: datetime) -> Todo:
    todo = Todo()
    todo.add("uid", task_uid(task.id))
    _common(todo, task, now=now)
    # An all-day task is a calendar day (DUE;VALUE=DATE), the same day in every zone; a timed one an instant.
    due_day = getattr(task, "due_day", None)
    todo.add("due", due_day if due_day is not None else task.due_date.astimezone(UTC))
    todo.add("status", "NEEDS-ACTION")
    if task.recurring_task_id is not None:
        todo.add("related-to", template_uid(task.recurring_task_id))
    return todo


def template_todo(template: Any, rule: Rule, *, now: datetime, taken: Sequence[datetime] = ()) -> Todo:
    """The template as a recurring VTODO; `taken` are slots its occurrences (their own VTODOs) or skips
    already stand for, left out with EXDATE so a calendar app does not show them a second time."""
    todo = Todo()
    todo.add("uid", template_uid(template.id))
    _common(todo, template, now=now)
    start = dtstart(rule)
    todo.add("dtstart", start)
    rrule = to_rrule(rule)
    if rrule is not None:
        todo.add("rrule", vRecur.from_ical(rrule.removeprefix("RRULE:")))
        if taken:
            # In DTSTART's form (zone or UTC), as RFC 5545 asks of EXDATE.
            todo.add("exdate", [slot.astimezone(start.tzinfo) for slot in taken])
    else:
        # Cron restricting both day of month and weekday means "either" there, "both" in RRULE.
        todo.add("x-taskstream-cron", rule.cron)
        todo.add("comment", f"Repeats on the cron schedule '{rule.cron}' ({rule.timezone}), which RRULE cannot express")
    todo.add("status", "NEEDS-ACTION")
    return todo


def feed(tasks: Iterable[Any], templates: Iterable[tuple[Any, Rule]], *, now: datetime, name: str,
         taken: Mapping[Any, Sequence[datetime]] | None = None) -> bytes:
    """The calendar as bytes; VTIMEZONEs are included for every zone a DTSTART names. `taken` maps a
    template id to the slots its RRULE must not repeat (see template_todo)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for task in tasks:
        calendar.add_component(task_todo(task, now=now))
    for template, rule in templates:
        calendar.add_component(template_todo(template, rule, now=now, taken=(taken or {}).get(template.id, ())))
    calendar.add_missing_timezones()
    return calendar.to_ical()
