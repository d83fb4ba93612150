"""The `reminders` and `reminder-schedule` wire formats: messages round trip, and bad ones say why."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from streams.events import (
    UndecodableEvent,
    UndecodableReminder,
    decode_reminders,
    decode_schedule_change,
    encode,
    reminders_message,
    schedule_change,
)
from streams.schemas import validator
from tables.reminder_schedule import window_of


def test_a_window_message_round_trips_and_matches_its_schema():
    reminder_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    later_id = str(uuid.uuid4())
    at = datetime(2026, 12, 1, 16, 0, tzinfo=UTC).timestamp()
    window = window_of(at + 0.25)
    message = reminders_message("alice", window, {later_id: [task_id, at + 0.5], reminder_id: [task_id, at + 0.25]})
    validator("reminder.json").validate(message)
    assert message["window_start"] == "2026-12-01T16:00:00Z"
    assert [r["reminder_id"] for r in message["reminders"]] == [reminder_id, later_id], "soonest first"

    due = decode_reminders(b"alice", json.dumps(message).encode())
    assert due.user_id == "alice"
    assert [(str(r), str(t), when.timestamp()) for r, t, when in due.reminders] == [
        (reminder_id, task_id, at + 0.25), (later_id, task_id, at + 0.5)]


@pytest.mark.parametrize("key, value, why", [
    (None, {"user_id": "a", "window_start": "2026-12-01T16:00:00Z", "reminders": []}, "no key"),
    (b"bob", {"user_id": "alice", "window_start": "2026-12-01T16:00:00Z", "reminders": []}, "differs from the key"),
    (b"alice", {"user_id": "alice", "window_start": "2026-12-01T16:00:00Z", "reminders": []}, "no reminders"),
    (b"alice", {"user_id": "alice", "reminders": [{"reminder_id": "x", "task_id": "y", "remind_at": "z"}]}, "isoformat"),
    (b"alice", {"user_id": "alice", "reminders": [{"reminder_id": str(uuid.uuid4()), "task_id": str(uuid.uuid4()),
                                                   "remind_at": "2026-12-01T16:00:00"}]}, "no offset"),
])
def test_a_malformed_window_message_says_why(key, value, why):
    with pytest.raises(UndecodableReminder, match=why):
        decode_reminders(key, json.dumps(value).encode())


def test_a_schedule_change_names_the_task_and_a_message_without_one_says_why():
    event_id, task_id = uuid.uuid4(), uuid.uuid4()
    payload = schedule_change(event_id=event_id, user_id="alice", task_id=task_id, reason="reminder.created",
                              now=datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
    assert payload == {"event_id": str(event_id), "user_id": "alice", "task_id": str(task_id),
                       "reason": "reminder.created", "occurred_at": "2026-12-01T16:00:00Z"}
    assert decode_schedule_change(encode(payload)) == task_id
    for bad in (None, b"{", b"[]", b'{"task_id": "42"}'):
        with pytest.raises(UndecodableEvent, match="not a reminder-schedule message"):
            decode_schedule_change(bad)
