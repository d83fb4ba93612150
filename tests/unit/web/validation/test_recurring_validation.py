"""Recurring-task bodies: every bad value is a 400 naming its field; PATCH merges into the stored rule."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.recurring import RULE_FIELDS
from web.errors import ValidationError
from web.validation import recurring as rv

STORED = {"frequency": "WEEKLY", "interval": 2, "by_weekday": ["MO"], "start_date": "2030-01-07T09:00:00+00:00",
          "timezone": "UTC", "count": 5, "repeat_from": "due_date"}


def test_create_returns_clean_template_fields_and_the_parsed_rule():
    fields, rule = rv.template_create({"title": " T ", "tags": ["A"], "priority": "low", "frequency": "daily",
                                       "start_date": "2030-01-01T09:00:00Z"})
    assert fields == {"title": "T", "tags": ["a"], "priority": "LOW"}
    assert rule.frequency == "DAILY"


def test_last_is_accepted_for_the_last_day_of_the_month():
    _, rule = rv.template_create({"title": "t", "frequency": "MONTHLY", "by_month_day": "Last",
                                  "start_date": "2030-01-01T09:00:00Z"})
    assert rule.by_month_day == -1


def test_patch_without_rule_fields_leaves_the_rule_alone():
    fields, rule = rv.template_update({"title": "new"}, STORED)
    assert fields == {"title": "new"} and rule is None


def test_patch_merges_rule_fields_into_the_stored_rule():
    _, rule = rv.template_update({"interval": 3}, STORED)
    assert (rule.interval, rule.by_weekday, rule.count) == (3, (0,), 5)


def test_patch_naming_a_rule_kind_replaces_the_kind_but_keeps_start_zone_and_bounds():
    _, rule = rv.template_update({"frequency": "MONTHLY", "by_month_day": 15}, STORED)
    assert (rule.frequency, rule.interval, rule.by_weekday, rule.by_month_day, rule.count) == (
        "MONTHLY", 1, (), 15, 5)
    _, rule = rv.template_update({"cron": "0 8 * * *"}, STORED)
    assert (rule.cron, rule.frequency, rule.count) == ("0 8 * * *", None, 5)


def test_patch_with_null_clears_an_optional_bound():
    _, rule = rv.template_update({"count": None}, STORED)
    assert rule.count is None


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"),
    ({"colour": "red"}, "colour"),
    ({"interval": 0}, "interval"),
    ({"timezone": "Atlantis/Capital"}, "timezone"),
    ({"end_date": "2020-01-01"}, "end_date"),
    ({"title": ""}, "title"),
])
def test_a_bad_patch_names_its_field(body, field):
    with pytest.raises(ValidationError) as caught:
        rv.template_update(body, STORED)
    assert caught.value.field == field


def test_a_start_date_at_the_edge_of_the_calendar_is_a_400_not_a_crash():
    with pytest.raises(ValidationError) as caught:
        rv.rule({"frequency": "DAILY", "start_date": "0001-01-01T00:00:00+05:00"})
    assert caught.value.field == "start_date"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
SAMPLES = {
    "frequency": st.sampled_from(["DAILY", "weekly", "MONTHLY", "YEARLY", "HOURLY"]),
    "interval": st.integers(-2, 1200),
    "by_weekday": st.lists(st.sampled_from(["MO", "tu", "XX", "FRIDAY"]), max_size=3),
    "by_month_day": st.integers(-3, 33) | st.just("last"),
    "by_nth_weekday": st.sampled_from(["2TU", "-1FR", "5MO", "last FR", "0TU"]),
    "cron": st.sampled_from(["0 9 * * 1-5", "0 0 30 2 *", "61 * * * *", "@daily", "0 0 L * *", "a b c d e"]),
    "rrule": st.sampled_from(["FREQ=DAILY", "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3", "FREQ=DAILY;INTERVAL=0",
                              "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=DAILY;BYHOUR=25"]),
    "start_date": st.sampled_from(["2030-01-01T09:00:00Z", "2030-03-31T02:30:00+02:00", "9999-12-31T23:59:59Z",
                                   "0001-01-01T00:00:00+05:00", "2030-01-01", "2030-13-01T00:00:00Z"]),
    "timezone": st.sampled_from(["UTC", "Europe/Berlin", "Nowhere/X", "localtime", "", "Etc/GMT+14"]),
    "end_date": st.sampled_from(["2031-01-01", "9999-12-31", "2020-01-01T00:00:00Z", "2030-02-30"]),
    "count": st.integers(-1, 20000),
    "repeat_from": st.sampled_from(["due_date", "completion_date", "x"]),
}


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({}, optional={name: SAMPLES[name] | JSON for name in RULE_FIELDS}))
def test_any_rule_body_is_either_accepted_or_a_400_naming_a_field(data):
    try:
        rv.rule(data)
    except ValidationError as exc:
        assert exc.field
