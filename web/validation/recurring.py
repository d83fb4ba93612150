"""Validation of recurring-task bodies: template fields plus a rule, each bad value named (400)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from db.recurring import RULE_FIELDS, TEMPLATE_FIELDS
from streams.rules.recurrence import Rule, RuleError, parse_rule
from streams.rules.reminders import DurationError, parse_duration

from . import fields as v
from ..errors import ValidationError

BODY_FIELDS = TEMPLATE_FIELDS + RULE_FIELDS
#: Naming one of these in a PATCH replaces the schedule's kind and its kind-specific fields.
KIND_FIELDS = ("frequency", "cron", "rrule")
KIND_SPECIFIC = ("frequency", "interval", "by_weekday", "by_month_day", "by_nth_weekday", "cron", "rrule")
STATUSES = ("active", "paused", "ended")

#: Most reminder offsets a template may carry (each occurrence gets one reminder per offset).
MAX_TEMPLATE_REMINDERS = 5


def reminder_offsets(value: Any) -> list[timedelta]:
    """["PT1H", "P1D"] -> offsets before each occurrence's due date, de-duplicated, soonest-to-due last."""
    if not isinstance(value, list):
        raise ValidationError("reminders", 'must be a list of ISO-8601 durations before the due date, e.g. ["PT1H"]')
    offsets: list[timedelta] = []
    for n, item in enumerate(value):
        try:
            offset = parse_duration(item)
        except DurationError as exc:
            raise ValidationError(f"reminders[{n}]", str(exc)) from None
        if offset not in offsets:
            offsets.append(offset)
    if len(offsets) > MAX_TEMPLATE_REMINDERS:
        raise ValidationError("reminders", f"a template has at most {MAX_TEMPLATE_REMINDERS} reminders, "
                              f"got {len(offsets)}")
    return sorted(offsets, reverse=True)


_TEMPLATE_VALIDATORS = {
    "title": v.title,
    "description": v.description,
    "priority": v.priority,
    "tags": v.request_tags,
    "reminders": reminder_offsets,
}


def rule(data: Mapping[str, Any]) -> Rule:
    """The pure module's validation, its RuleError turned into a 400 naming the field."""
    data = dict(data)
    # "last" reads better than -1 for "the last day of the month".
    if isinstance(data.get("by_month_day"), str) and data["by_month_day"].strip().lower() == "last":
        data["by_month_day"] = -1
    try:
        return parse_rule(data)
    except RuleError as exc:
        raise ValidationError(exc.field, exc.message) from None
    except OverflowError:
        # parse_rule lets this one through: a start near year 1 or 9999 moved into the rule's zone.
        raise ValidationError("start_date", "is outside the supported range of dates") from None


def template_create(body: Any) -> tuple[dict[str, Any], Rule]:
    body = v.require_object(body)
    v.reject_unknown(body, BODY_FIELDS)
    if "title" not in body:
        raise ValidationError("title", "is required")
    fields = {key: _TEMPLATE_VALIDATORS[key](body[key]) for key in TEMPLATE_FIELDS if key in body}
    return fields, rule({key: body[key] for key in RULE_FIELDS if key in body})


def template_update(body: Any, stored_rule: Mapping[str, Any]) -> tuple[dict[str, Any], Rule | None]:
    """Changed template fields, and the new rule when the body touches one (None otherwise).

    Rule fields merge into the stored rule; JSON null clears end_date or count. Naming frequency,
    cron or rrule replaces the schedule's kind with its own fields (interval, by_*), while start_date,
    timezone, end_date, count and repeat_from are kept unless given.
    """
    body = v.require_object(body)
    v.reject_unknown(body, BODY_FIELDS)
    if not body:
        raise ValidationError("body", f"names no field to change; send any of {', '.join(BODY_FIELDS)}")
    fields = {key: _TEMPLATE_VALIDATORS[key](body[key]) for key in TEMPLATE_FIELDS if key in body}
    changes = {key: body[key] for key in RULE_FIELDS if key in body}
    if not changes:
        return fields, None
    merged = dict(stored_rule)
    if any(key in changes for key in KIND_FIELDS):
        for key in KIND_SPECIFIC:
            merged.pop(key, None)
    merged.update(changes)
    return fields, rule(merged)


def status_param(query: Mapping[str, str]) -> str | None:
    raw = query.get("status")
    if not raw:
        return None
    if raw.lower() not in STATUSES:
        raise ValidationError("status", f"must be one of {', '.join(STATUSES)}, got {raw!r}")
    return raw.lower()
