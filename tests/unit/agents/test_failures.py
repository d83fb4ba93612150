"""The consumers' failure policy: transient failures are retried, undecodable messages and bugs are parked."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError
from sqlalchemy import exc as sa_exc

from agents import failures
from agents import fan_out
from agents.failures import Consumer, failure_kind as _failure_kind, retry
from streams.events import build_envelope


class Orig(Exception):
    def __init__(self, sqlstate):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def database_down() -> Exception:
    return sa_exc.OperationalError("SELECT 1", {}, Orig("08006"))


def message(offset: int, value: bytes = b"{}", topic: str = "task-events", key: bytes = b"alice"):
    return SimpleNamespace(topic=topic, partition=2, offset=offset, key=key, value=value)


def events(*messages):
    return [SimpleNamespace(message=m) for m in messages]


class FakeProducer:
    """Records what was sent; the next `failures` sends fail with the given errors once the broker is asked."""

    def __init__(self, *failures: Exception) -> None:
        self.sent: list[dict] = []
        self.failures = list(failures)

    async def send(self, topic, *, key, value, headers=None):
        future = asyncio.get_running_loop().create_future()
        if self.failures:
            future.set_exception(self.failures.pop(0))
        else:
            self.sent.append({"topic": topic, "key": key, "value": value, "headers": dict(headers or [])})
            future.set_result(None)
        return future


@pytest.fixture
def no_waiting(monkeypatch):
    """Backoff pauses, recorded instead of slept."""
    pauses: list[float] = []

    async def pause(seconds):
        pauses.append(seconds)

    monkeypatch.setattr(failures.asyncio, "sleep", pause)
    return pauses


@pytest.fixture
def producer(monkeypatch):
    fake = FakeProducer()

    async def batching_producer(app):
        return fake

    monkeypatch.setattr(failures, "batching_producer", batching_producer)
    monkeypatch.setattr(fan_out, "batching_producer", batching_producer)
    return fake


def test_database_failures_are_sorted_into_retry_now_retry_later_and_real_errors():
    from sqlalchemy import exc as sa_exc

    class Orig(Exception):
        def __init__(self, sqlstate):
            super().__init__(sqlstate)
            self.sqlstate = sqlstate

    assert _failure_kind(sa_exc.DBAPIError("x", {}, Orig("40P01"))) == "conflict"
    assert _failure_kind(sa_exc.DBAPIError("x", {}, Orig("40001"))) == "conflict"
    assert _failure_kind(sa_exc.OperationalError("x", {}, Orig("08006"))) == "unavailable"
    assert _failure_kind(ConnectionRefusedError()) == "unavailable"
    assert _failure_kind(sa_exc.IntegrityError("x", {}, Orig("23505"))) is None
    assert _failure_kind(ValueError("bug")) is None


def test_a_broker_that_does_not_answer_is_transient_and_a_rejected_record_is_not():
    assert _failure_kind(KafkaConnectionError()) == "unavailable"
    assert _failure_kind(KafkaTimeoutError()) == "unavailable"
    assert _failure_kind(MessageSizeTooLargeError()) is None


async def test_a_transient_failure_is_retried_with_growing_pauses_until_it_succeeds(no_waiting):
    calls = []

    async def action():
        calls.append(1)
        if len(calls) < 8:
            raise database_down()
        return "done"

    assert await retry("writing", action) == "done"
    assert no_waiting == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0]


async def test_a_bug_is_not_retried(no_waiting):
    calls = []

    async def action():
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await retry("writing", action)
    assert len(calls) == 1 and no_waiting == []


async def test_a_lock_conflict_is_retried_at_once_a_few_times_then_counts_as_an_error(no_waiting):
    calls = []

    async def action():
        calls.append(1)
        raise sa_exc.DBAPIError("UPDATE", {}, Orig("40P01"))

    with pytest.raises(sa_exc.DBAPIError):
        await retry("writing", action)
    assert len(calls) == failures.CONFLICT_RETRIES + 1 and no_waiting == []


async def test_bounded_retries_give_up_after_their_attempts(no_waiting):
    async def action():
        raise database_down()

    with pytest.raises(sa_exc.OperationalError):
        await retry("rebuilding", action, attempts=3)
    assert len(no_waiting) == 2


async def test_a_batch_whose_database_is_away_waits_for_it_and_nothing_is_dropped(no_waiting, producer):
    """Webhook queueing (and every other consumer) retries a transient database error, never acks and drops."""
    written: list[list[str]] = []
    outages = [database_down(), database_down()]

    async def write(items):
        if outages:
            raise outages.pop(0)
        written.append(items)
        return len(items)

    consumer = Consumer("queue_task_webhooks")
    batch = [(message(1), "a"), (message(2), "b")]
    assert await consumer.process(batch, write, what="queueing") == [2]
    assert written == [["a", "b"]] and len(no_waiting) == 2
    assert producer.sent == [], "nothing dead-lettered"


async def test_a_message_that_breaks_the_handler_is_dead_lettered_and_the_rest_are_handled(no_waiting, producer):
    written: list[str] = []

    async def write(items):
        if "bad" in items:
            raise ValueError("a bug")
        written.extend(items)

    consumer = Consumer("expand_recurrences")
    await consumer.process([(message(1), "a"), (message(2), "bad"), (message(3), "c")], write, what="expanding")
    assert written == ["a", "c"]
    assert len(producer.sent) == 1
    parked = producer.sent[0]
    assert parked["topic"] == "task-events-dlq" and parked["key"] == b"alice"
    assert parked["headers"] == {"error": b"ValueError: a bug", "source": b"task-events/2/2",
                                 "consumer": b"expand_recurrences"}


async def test_an_undecodable_task_event_is_parked_once_by_the_fan_out_agent(producer):
    poison = message(7, b"{not json")
    for name in ("expand_recurrences", "follow_reminders", "queue_task_webhooks"):
        assert await Consumer(name).decode(events(poison), fan_out.decode) == []
    assert producer.sent == []
    assert await Consumer("fan_out_updates").decode(events(poison), fan_out.decode) == []
    assert len(producer.sent) == 1
    headers = producer.sent[0]["headers"]
    assert headers["error"].startswith(b"not JSON") and headers["source"] == b"task-events/2/7"
    assert producer.sent[0]["value"] == b"{not json"


async def test_an_undecodable_message_on_a_topic_with_one_consumer_is_parked_by_it(producer):
    from agents.reminders import affected_task

    await Consumer("follow_reminders").decode(events(message(3, b"[]", topic="reminder-schedule")), affected_task)
    assert [p["headers"]["consumer"] for p in producer.sent] == [b"follow_reminders"]
    assert b"not a reminder-schedule message" in producer.sent[0]["headers"]["error"]


def envelope(seq: int) -> bytes:
    return json.dumps(build_envelope(event_id=f"e{seq}", event_type="created", occurred_at="2026-11-25T10:00:00Z",
                                     user_id="alice", task_id="t1", seq=seq, before=None,
                                     after={"id": "t1"})).encode()


async def test_fan_out_waits_for_the_broker_and_resends_only_what_it_did_not_confirm(no_waiting, producer):
    producer.failures = [KafkaTimeoutError()]
    batch = await fan_out.consumer.decode(events(message(1, envelope(1)), message(2, envelope(2))), fan_out.decode)
    await fan_out.consumer.process(batch, fan_out.publish, what="publishing")
    assert [json.loads(p["value"])["seq"] for p in producer.sent] == [2, 1]
    assert all(p["topic"] == "task-updates" and p["key"] == b"alice" for p in producer.sent)
    assert len(no_waiting) == 1
