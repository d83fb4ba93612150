"""Validation rules for task bodies, parameters and headers (pure functions, no server)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from web.errors import ValidationError
from web.validation import fields as v


def field_of(call) -> str:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.field


def test_title_is_trimmed_and_limited_to_255_characters():
    assert v.title("  hello  ") == "hello"
    assert v.title("x" * 255) == "x" * 255
    for bad in ("", "   ", "x" * 256, None, 3):
        assert field_of(lambda: v.title(bad)) == "title"


def test_priority_is_case_insensitive_in_and_upper_case_out():
    assert [v.priority(p) for p in ("low", "Medium", " HIGH ")] == ["LOW", "MEDIUM", "HIGH"]
    assert field_of(lambda: v.priority("urgent")) == "priority"


def test_tags_are_trimmed_lower_cased_deduplicated_and_at_most_ten():
    assert v.tags([" Work", "work", "HOME "]) == ["work", "home"]
    assert v.tags(["a"] * 30) == ["a"]
    assert v.tags(["new", "a"], existing=["a", "b"]) == ["a", "b", "new"]
    assert field_of(lambda: v.tags([f"t{i}" for i in range(11)])) == "tags"
    assert field_of(lambda: v.tags(["x"], existing=[f"t{i}" for i in range(10)])) == "tags"
    assert field_of(lambda: v.tags(["y" * 51])) == "tags"
    assert field_of(lambda: v.tags("work")) == "tags"


def test_due_date_needs_an_offset_and_is_stored_in_utc():
    assert v.due_date("2026-03-29T09:00:00+02:00") == datetime(2026, 3, 29, 7, tzinfo=timezone.utc)
    assert v.due_date("2026-03-29T09:00:00Z").tzinfo == timezone.utc
    assert v.due_date(None) is None
    for bad in ("2026-03-29T09:00:00", "2026-02-30", "20260329", "next week", 1700000000, "9999-12-31T23:00:00-05:00",
                "0001-01-01T00:00:00+01:00"):
        assert field_of(lambda: v.due_date(bad)) == "due_date"


def test_a_date_alone_is_an_all_day_due_date_within_the_supported_range():
    assert v.due_date("2026-03-29") == date(2026, 3, 29)
    assert v.due_date(" 2026-12-11 ") == date(2026, 12, 11)
    for bad in ("1899-12-31", "9999-01-01"):
        assert field_of(lambda: v.due_date(bad)) == "due_date"


def test_create_rejects_unknown_fields_and_requires_a_title():
    assert field_of(lambda: v.task_create({"title": "x", "colour": "red"})) == "colour"
    assert field_of(lambda: v.task_create({"description": "no title"})) == "title"
    assert field_of(lambda: v.task_create(["not", "an", "object"])) == "body"
    assert v.task_create({"title": " t ", "priority": "low"}) == {"title": "t", "priority": "LOW"}


def test_update_needs_at_least_one_known_field():
    assert field_of(lambda: v.task_update({})) == "body"
    assert v.task_update({"completed": True}) == {"completed": True}
    assert field_of(lambda: v.task_update({"completed": "true"})) == "completed"


def test_query_parameters_are_checked_and_named():
    assert v.int_param({}, "limit", 20, minimum=1, maximum=100) == 20
    assert v.int_param({"limit": "7"}, "limit", 20, minimum=1, maximum=100) == 7
    for raw in ("0", "101", "x", "1.5"):
        assert field_of(lambda: v.int_param({"limit": raw}, "limit", 20, minimum=1, maximum=100)) == "limit"
    assert v.bool_param({"completed": "TRUE"}, "completed") is True
    assert v.bool_param({}, "completed") is None
    assert field_of(lambda: v.bool_param({"completed": "maybe"}, "completed")) == "completed"
    assert field_of(lambda: v.reject_unknown_params({"limt": "1"}, ("limit",))) == "limt"


def test_if_match_accepts_plain_quoted_and_weak_versions():
    assert [v.if_match(h) for h in ("3", '"3"', 'W/"3"', None)] == [3, 3, 3, None]
    assert field_of(lambda: v.if_match("abc")) == "If-Match"
    assert field_of(lambda: v.if_match("0")) == "If-Match"


def test_ids_that_are_not_uuids_are_treated_as_missing():
    assert v.parse_uuid("not-a-uuid") is None
    assert str(v.parse_uuid("0b9d5f4e-3f7a-4a4e-9d0c-1c2b3a4d5e6f")) == "0b9d5f4e-3f7a-4a4e-9d0c-1c2b3a4d5e6f"
