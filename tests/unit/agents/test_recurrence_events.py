"""Which task events finish an occurrence of a recurring task, as the recurrence agent decodes them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from agents.recurrence import finish_from_envelope, finish_from_message
from streams.events import UndecodableEvent, build_envelope

TEMPLATE = str(uuid.uuid4())
TASK = str(uuid.uuid4())


def snapshot(**fields):
    return {"id": TASK, "completed": False, "completed_at": None, "recurring_task_id": TEMPLATE, **fields}


def envelope(event_type, before, after):
    return build_envelope(event_id=str(uuid.uuid4()), event_type=event_type, occurred_at="2030-01-01T10:00:00Z",
                          user_id="alice", task_id=TASK, seq=7, before=before, after=after)


def test_a_completed_occurrence_is_a_finish_with_its_completion_time():
    data = envelope("completed", snapshot(), snapshot(completed=True, completed_at="2030-01-01T10:00:00Z"))
    finish = finish_from_envelope(data, "task-events/2/41")
    assert finish is not None
    assert (finish.user_id, str(finish.template_id), str(finish.task_id)) == ("alice", TEMPLATE, TASK)
    assert finish.completed_at == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert str(finish.event_id) == data["event_id"] and finish.source == "task-events/2/41"


def test_a_deleted_occurrence_is_a_finish_without_a_completion_time():
    finish = finish_from_envelope(envelope("deleted", snapshot(), None))
    assert finish is not None and finish.completed_at is None


@pytest.mark.parametrize("event_type", ["created", "updated", "uncompleted"])
def test_other_changes_to_an_occurrence_finish_nothing(event_type):
    assert finish_from_envelope(envelope(event_type, snapshot(), snapshot(title="x"))) is None


def test_unlinking_a_task_from_its_template_finishes_nothing():
    assert finish_from_envelope(envelope("updated", snapshot(), snapshot(recurring_task_id=None))) is None


def test_tasks_that_do_not_recur_finish_nothing():
    plain = snapshot(recurring_task_id=None)
    assert finish_from_envelope(envelope("completed", plain, {**plain, "completed": True,
                                                               "completed_at": "2030-01-01T10:00:00Z"})) is None
    assert finish_from_envelope(envelope("deleted", plain, None)) is None


@pytest.mark.parametrize(("value", "problem"), [
    (None, "tombstone"),
    (b"{nope", "not JSON"),
    (b"[]", "not a JSON object"),
    (json.dumps({"event_type": "completed", "after": None}).encode(), "without its after"),
    (json.dumps(envelope("completed", snapshot(), snapshot(completed=True, completed_at="soon"))).encode(),
     "completed_at"),
    (json.dumps({**envelope("deleted", snapshot(), None), "task_id": "42"}).encode(), "task_id"),
    (json.dumps({**envelope("deleted", snapshot(), None), "user_id": ""}).encode(), "user_id"),
])
def test_a_malformed_message_is_reported_as_undecodable_saying_why(value, problem):
    with pytest.raises(UndecodableEvent, match=problem):
        finish_from_message(value, "task-events/0/1")
