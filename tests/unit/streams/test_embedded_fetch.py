"""The embedded broker's fetch wait: short while records flow, long once the consumer has been idle a while."""

from streams.embedded_fetch import EMBEDDED_FETCH_MAX_WAIT_MS, IDLE_AFTER, IDLE_FETCH_MAX_WAIT_MS, fetch_wait_ms


def test_while_records_flow_a_fetch_waits_briefly():
    assert fetch_wait_ms(last_data=100.0, now=100.0) == EMBEDDED_FETCH_MAX_WAIT_MS
    assert fetch_wait_ms(last_data=100.0, now=100.0 + IDLE_AFTER - 0.01) == EMBEDDED_FETCH_MAX_WAIT_MS


def test_an_idle_consumer_waits_longer():
    assert fetch_wait_ms(last_data=100.0, now=100.0 + IDLE_AFTER) == IDLE_FETCH_MAX_WAIT_MS
    assert IDLE_FETCH_MAX_WAIT_MS > EMBEDDED_FETCH_MAX_WAIT_MS
