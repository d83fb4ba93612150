"""Prometheus metrics of the worker: one definition per metric, named `taskstream_*`."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

#: Latency buckets in seconds, from a fast API call to a slow broker send.
LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Push latency buckets in seconds: the targets are 0.1 s (p99 at a steady 200 writes/s) and 1 s (p99 under load).
PUSH = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENESS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0)

HTTP_REQUESTS = Counter(
    "taskstream_http_requests_total", "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "taskstream_http_request_duration_seconds", "HTTP request latency by route template and method.",
    ["route", "method"], buckets=LATENCY,
)
HTTP_SHED = Counter(
    "taskstream_http_shed_total", "HTTP requests answered 503 at once because the worker had MAX_IN_FLIGHT running.",
)
KAFKA_PUBLISHED = Counter(
    "taskstream_kafka_publish_total", "Messages published by the outbox relay, by topic and outcome.",
    ["topic", "outcome"],
)
KAFKA_PUBLISH_LATENCY = Histogram(
    "taskstream_kafka_publish_duration_seconds", "Time from handing a message to the producer to its ack.",
    ["topic"], buckets=LATENCY,
)
OUTBOX_BACKLOG = Gauge("taskstream_outbox_backlog", "Events committed but not yet confirmed by the broker.")
OUTBOX_OLDEST_AGE = Gauge(
    "taskstream_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event (0 when none).",
)
CONSUMER_LAG = Gauge(
    "taskstream_consumer_lag", "Messages behind the high-water mark, per assigned topic partition.",
    ["topic", "partition"],
)
EVENTS_PROCESSED = Counter("taskstream_events_processed_total", "Events an agent handled.", ["agent"])
EVENTS_FAILED = Counter(
    "taskstream_events_failed_total", "Events an agent could not handle (dead-lettered or errored).", ["agent"],
)
DB_QUERY_LATENCY = Histogram(
    "taskstream_db_query_duration_seconds", "PostgreSQL statement latency.", buckets=LATENCY,
)
DB_POOL = Gauge("taskstream_db_pool_connections", "Database pool connections by state.", ["state"])
REMINDERS_SENT = Counter("taskstream_reminders_sent_total", "Reminders delivered as notifications.")
REMINDER_LATENESS = Histogram(
    "taskstream_reminder_lateness_seconds", "How late a reminder was delivered (sent_at - remind_at).",
    buckets=LATENESS,
)
OCCURRENCES_CREATED = Counter(
    "taskstream_occurrences_created_total", "Occurrences of recurring tasks created.",
)
WEBSOCKET_CONNECTIONS = Gauge("taskstream_websocket_connections", "Open WebSocket connections.")
WEBSOCKET_MESSAGES = Counter(
    "taskstream_websocket_messages_total", "WebSocket messages by direction.", ["direction"],
)
PUSH_LATENCY = Histogram(
    "taskstream_push_latency_seconds",
    "Time from a change's commit (its occurred_at) to the write of its update to a WebSocket, per socket.",
    buckets=PUSH,
)

#: Every metric family the application defines (dashboards and alert rules are checked against it).
FAMILIES = tuple(
    metric._name for metric in (
        HTTP_REQUESTS, HTTP_LATENCY, HTTP_SHED, KAFKA_PUBLISHED, KAFKA_PUBLISH_LATENCY, OUTBOX_BACKLOG,
        OUTBOX_OLDEST_AGE, CONSUMER_LAG, EVENTS_PROCESSED, EVENTS_FAILED, DB_QUERY_LATENCY, DB_POOL, REMINDERS_SENT,
        REMINDER_LATENESS, OCCURRENCES_CREATED, WEBSOCKET_CONNECTIONS, WEBSOCKET_MESSAGES, PUSH_LATENCY,
    )
)


def exposition() -> tuple[bytes, str]:
    """The text format Prometheus scrapes, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
