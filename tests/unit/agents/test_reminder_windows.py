"""The `reminders` wire format and the schedule's partitioning, without a broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka.partitioner import murmur2

from agents.reminders import (
    UndecodableReminder,
    decode_reminders,
    fire_time,
    partition_of,
    reminders_message,
    window_of,
)
from streams.schemas import validator


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


def test_windows_are_one_second_by_due_time_and_fire_when_all_of_them_is_due():
    assert window_of(1764604800.0) == window_of(1764604800.999) == (1764604800.0, 1764604800.9)
    assert window_of(1764604801.0)[0] == 1764604801.0
    assert fire_time({"a": ["t", 10.2], "b": ["t", 10.7]}) == 10.7


def test_a_users_schedule_lives_on_the_partition_the_producer_sends_their_messages_to():
    for user in ("alice", "bob", "user-" + "x" * 200, "ünïcødé"):
        assert partition_of(user, 4) == (murmur2(user.encode()) & 0x7FFFFFFF) % 4
    assert len({partition_of(f"user-{n}", 4) for n in range(100)}) == 4
