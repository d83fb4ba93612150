"""A reminder body names exactly one of remind_at and before_due, each a string: null is not "left out"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from web.errors import ValidationError
from web.views.reminders import reminder_body


def test_before_due_alone_is_a_relative_reminder():
    assert reminder_body({"before_due": "PT1H"}) == (None, timedelta(hours=1))


@pytest.mark.parametrize("body, field", [
    ({"before_due": "PT1H", "remind_at": None}, "remind_at"),  # found by the API fuzzer: was accepted
    ({"remind_at": None}, "remind_at"),
    ({"before_due": None}, "before_due"),
    ({}, "remind_at"),
])
def test_a_null_field_is_refused_naming_it(body, field):
    with pytest.raises(ValidationError) as caught:
        reminder_body(body)
    assert caught.value.field == field
