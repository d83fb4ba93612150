"""Input the database cannot take is a 400 naming the field, found by fuzzing (pure functions, no server)."""

from __future__ import annotations

import pytest

from web.errors import ValidationError
from web.validation import fields as v


def field_of(call) -> str:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.field


@pytest.mark.parametrize(
    "text, ok", [("plain", True), ("ünïcödé ✓ 😀", True), ("a\x00b", False), ("\ud800", False)],
)
def test_text_with_nul_or_a_lone_surrogate_is_not_storable(text, ok):
    assert v.storable(text) is ok


def test_a_body_string_the_database_cannot_store_names_its_field():
    assert field_of(lambda: v.check_text({"title": "ok", "tags": ["fine", "bad\x00"]})) == "tags"
    assert field_of(lambda: v.check_text({"params": {"search": "\ud800"}})) == "params.search"
    assert field_of(lambda: v.check_text(["\x00"])) == "body"
    v.check_text({"title": "ok", "n": 3, "deep": [[{"x": None}]]})  # nothing to refuse


def test_a_query_value_with_nul_names_its_parameter():
    assert field_of(lambda: v.check_query({"search": "a\x00"})) == "search"
    assert field_of(lambda: v.check_query({"x\x00": "1"})) == "query"
    v.check_query({"search": "\ufffd"})  # bytes that were not UTF-8 arrive replaced: harmless


@pytest.mark.parametrize("raw", [str(2**31), "53979178314156859392", "9" * 5000, "-1", "x"])
def test_whole_number_parameters_stay_within_a_database_integer(raw):
    assert field_of(lambda: v.int_param({"offset": raw}, "offset", 0, minimum=0)) == "offset"


def test_the_largest_accepted_whole_number_is_a_database_integer():
    assert v.int_param({"offset": str(v.INT_MAX)}, "offset", 0, minimum=0) == 2**31 - 1


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00Z", "0001-06-01T00:00:00Z", "1899-12-31T23:59:59Z",
                                 "9999-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"])
def test_date_times_near_the_ends_of_the_calendar_are_refused(raw):
    # asyncpg stores datetime.min/max as -infinity/infinity, and a reminder a year before year 1 overflows.
    assert field_of(lambda: v.timestamp(raw, "due_date")) == "due_date"


def test_date_times_inside_the_supported_range_are_taken():
    assert v.timestamp("1900-01-01T00:00:00Z", "due_date").year == 1900
    assert v.timestamp("9998-12-31T23:59:59+00:00", "due_date").year == 9998
