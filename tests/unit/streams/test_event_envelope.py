"""The event envelope: changes computed field by field, and undecodable messages recognised."""

from __future__ import annotations

import json

import pytest

from streams.events import UndecodableEvent, build_envelope, changes_between, decode_event
from streams.events import client_update_for as client_update

TASK = {"id": "t1", "title": "a", "priority": "LOW", "tags": [], "version": 1, "updated_at": "x"}


def test_changes_list_only_fields_that_changed_and_ignore_bookkeeping():
    after = {**TASK, "priority": "HIGH", "version": 2, "updated_at": "y"}
    assert changes_between(TASK, after) == {"priority": {"from": "LOW", "to": "HIGH"}}
    assert changes_between(None, {"title": "a"}) == {"title": {"from": None, "to": "a"}}
    assert changes_between({"title": "a"}, None) == {"title": {"from": "a", "to": None}}


def test_an_envelope_round_trips_through_the_record_and_becomes_a_client_update():
    envelope = build_envelope(event_id="e1", event_type="completed", occurred_at="2026-11-25T10:00:00Z",
                              user_id="u1", task_id="t1", seq=7, before=TASK, after={**TASK, "completed": True})
    record = decode_event(json.dumps(envelope).encode())
    update = client_update(record)
    assert update["type"] == "task.completed" and update["seq"] == 7
    assert update["occurred_at"] == "2026-11-25T10:00:00Z"
    assert update["task"]["completed"] is True


@pytest.mark.parametrize("raw", [None, b"", b"{", b"[1]", b'{"event_type": "exploded"}',
                                 json.dumps({"event_type": "created", "event_id": "e"}).encode()])
def test_malformed_messages_are_rejected_with_a_reason(raw):
    with pytest.raises(UndecodableEvent):
        decode_event(raw)


def test_unknown_event_types_cannot_be_built():
    with pytest.raises(ValueError):
        build_envelope(event_id="e", event_type="renamed", occurred_at="t", user_id="u", task_id="t", seq=1,
                       before=None, after=None)
