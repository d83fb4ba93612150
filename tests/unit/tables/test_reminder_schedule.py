"""The reminder schedule's windows and partitioning, without a broker."""

from __future__ import annotations

from aiokafka.partitioner import murmur2

from tables.reminder_schedule import fire_time, partition_of, window_of


def test_windows_are_one_second_by_due_time_and_fire_when_all_of_them_is_due():
    assert window_of(1764604800.0) == window_of(1764604800.999) == (1764604800.0, 1764604800.9)
    assert window_of(1764604801.0)[0] == 1764604801.0
    assert fire_time({"a": ["t", 10.2], "b": ["t", 10.7]}) == 10.7


def test_a_users_schedule_lives_on_the_partition_the_producer_sends_their_messages_to():
    for user in ("alice", "bob", "user-" + "x" * 200, "ünïcødé"):
        assert partition_of(user, 4) == (murmur2(user.encode()) & 0x7FFFFFFF) % 4
    assert len({partition_of(f"user-{n}", 4) for n in range(100)}) == 4
