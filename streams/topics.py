"""Topic declarations: the wire contract data engineers read (see the README's topic table), and the
start-up service that declares them on the broker."""

from __future__ import annotations

from datetime import timedelta

from mode import Service

from .app import app
from .events import REMINDER_SCHEDULE, REMINDERS, TASK_EVENTS, TASK_EVENTS_DLQ, TASK_UPDATES, TOPICS  # noqa: F401
from .settings import get_settings

# Values are JSON bytes decoded by the agents themselves, so an undecodable message
# reaches the agent (and the dead-letter topic) instead of failing inside Faust.
task_events = app.topic(TASK_EVENTS, key_serializer="raw", value_serializer="raw")
reminders = app.topic(REMINDERS, key_serializer="raw", value_serializer="raw")
reminder_schedule = app.topic(REMINDER_SCHEDULE, key_serializer="raw", value_serializer="raw")
task_updates = app.topic(TASK_UPDATES, key_serializer="raw", value_serializer="raw")
task_events_dlq = app.topic(TASK_EVENTS_DLQ, key_serializer="raw", value_serializer="raw")


OWNED = (task_events, reminders, reminder_schedule, task_updates, task_events_dlq)


def apply_topic_settings() -> None:
    """Retention comes from settings, which are read at start-up, not at import."""
    retention = timedelta(hours=get_settings().topic_retention_hours)
    for topic in OWNED:
        topic.retention = retention


async def declare_topics() -> None:
    """Create the topics the app writes to but Faust would not declare (it declares only agents' sources)."""
    for topic in OWNED:
        await topic.maybe_declare()


@app.service
class TopicDeclarations(Service):
    """Declares the owned topics, with their settings, once the worker has started. The app starts its
    @app.service services before the batching producer, the outbox relay and the WebSocket gateway (see
    TaskstreamApp.on_started), so those find their topics there: the gateway fails without task-updates,
    and a broker that creates topics on first write would give task-events its own defaults."""

    async def on_start(self) -> None:
        # Retention is read only when a topic is declared, and nothing declares these topics but this.
        apply_topic_settings()
        await declare_topics()
