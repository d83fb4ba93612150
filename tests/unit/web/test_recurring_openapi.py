"""The OpenAPI description of recurring tasks and the calendar matches what the server accepts and returns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from db.models import RecurringTask
from db.recurring import template_json
from streams.rules.recurrence import parse_rule
from web.errors import ValidationError
from web.openapi import document as build_document
from web.validation import recurring as rv

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def conforms(document: dict[str, Any], component: str, instance: Any) -> bool:
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(instance)


def accepted(body: dict[str, Any]) -> bool:
    try:
        rv.template_create(body)
    except ValidationError:
        return False
    return True


RULES = [
    {"frequency": "weekly", "by_weekday": ["mo", "Friday"], "interval": 2},
    {"frequency": "MONTHLY", "by_month_day": "last", "count": 12},
    {"frequency": "MONTHLY", "by_nth_weekday": "2nd TU", "end_date": "2031-01-01"},
    {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin", "repeat_from": "completion_date"},
    {"rrule": "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1;COUNT=4"},
]


@pytest.mark.parametrize("rule", RULES)
def test_every_stored_template_conforms_to_the_recurring_task_schema(document, rule):
    parsed = parse_rule({"start_date": "2030-01-07T09:00:00+01:00", **rule, "by_month_day": -1}
                        if rule.get("by_month_day") == "last" else {"start_date": "2030-01-07T09:00:00+01:00", **rule})
    template = RecurringTask(
        id=uuid.uuid4(), user_id="alice", title="t", description=None, priority="MEDIUM", tags=["x"],
        rule=parsed.to_dict(), status="active", next_occurrence=NOW, occurrences_created=1, version=1,
        created_at=NOW, updated_at=NOW,
    )
    assert conforms(document, "RecurringTask", template_json(template))


@pytest.mark.parametrize("rule", RULES)
def test_bodies_the_server_accepts_conform_to_the_create_schema(document, rule):
    body = {"title": "t", "start_date": "2030-01-07T09:00:00+01:00", **rule}
    assert accepted(body)
    assert conforms(document, "RecurringTaskCreate", body)


@pytest.mark.parametrize("body", [
    {"title": "t", "start_date": "2030-01-07T09:00:00Z", "frequency": "DAILY", "every": "day"},
    {"title": "t", "start_date": "2030-01-07T09:00:00Z", "frequency": "DAILY", "interval": 0},
    {"title": "t", "start_date": "2030-01-07T09:00:00Z", "frequency": "DAILY", "count": 0},
    {"title": "t", "start_date": "2030-01-07T09:00:00Z", "frequency": "FORTNIGHTLY"},
    {"title": "t", "start_date": "2030-01-07T09:00:00Z", "frequency": "MONTHLY", "by_month_day": 32},
    {"title": "t", "start_date": "2030-01-07T09:00:00Z", "frequency": "DAILY", "repeat_from": "whenever"},
    {"start_date": "2030-01-07T09:00:00Z", "frequency": "DAILY"},
    {"title": "t", "frequency": "DAILY"},
])
def test_bodies_the_schema_rejects_the_server_rejects_too(document, body):
    assert not conforms(document, "RecurringTaskCreate", body)
    assert not accepted(body)


def test_the_secret_feed_path_declares_its_parameter(document):
    item = document["paths"]["/calendar/{token}.ics"]
    assert item["parameters"] == [{"$ref": "#/components/parameters/CalendarSecret"}]
    assert "security" not in item["get"]
    assert set(item["get"]["responses"]) == {"200", "404", "429", "503"}


def test_template_changes_accept_if_match_and_document_412(document):
    for method, path in [("patch", "/api/recurring-tasks/{template_id}"),
                         ("delete", "/api/recurring-tasks/{template_id}"),
                         ("post", "/api/recurring-tasks/{template_id}/pause"),
                         ("post", "/api/recurring-tasks/{template_id}/resume")]:
        responses = document["paths"][path][method]["responses"]
        assert {"404", "412"} <= set(responses), (method, path)
    assert "unlinked" in document["paths"]["/api/recurring-tasks/{template_id}"]["delete"]["description"]
