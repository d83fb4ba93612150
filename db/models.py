"""SQLAlchemy 2.0 models: tasks, the append-only audit trail, the outbox, saved views and recurring tasks."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Computed,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Interval,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from streams.events import EVENT_TYPES, PRIORITIES

TZ = TIMESTAMP(timezone=True)

# Predictable constraint names so migrations can refer to them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    completed: Mapped[bool] = mapped_column(nullable=False, server_default=text("false"), default=False)
    completed_at: Mapped[datetime | None] = mapped_column(TZ)
    due_date: Mapped[datetime | None] = mapped_column(TZ)
    #: Set for an all-day task (migration 0009): its calendar day; due_date is then that day's last
    #: instant in the user's zone (streams/rules/all_day.py), recomputed when the zone changes.
    due_day: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(6), nullable=False, server_default="MEDIUM", default="MEDIUM")
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]"), default=list
    )
    recurring_task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1", default=1)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    # Derived by the database (migration 0002): the sort key for priority and the full-text document.
    priority_rank: Mapped[int] = mapped_column(
        SmallInteger, Computed("CASE priority WHEN 'LOW' THEN 1 WHEN 'MEDIUM' THEN 2 ELSE 3 END", persisted=True)
    )
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "setweight(to_tsvector('english'::regconfig, title), 'A') || "
            "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')",
            persisted=True,
        ),
        deferred=True,
    )

    __table_args__ = (
        CheckConstraint("priority IN ('LOW', 'MEDIUM', 'HIGH')", name="priority"),
        CheckConstraint("char_length(title) BETWEEN 1 AND 255", name="title_length"),
        CheckConstraint("cardinality(tags) <= 10", name="tag_count"),
        CheckConstraint("due_day IS NULL OR due_date IS NOT NULL", name="due_day_has_due_date"),
        # The default listing: one user's tasks, newest first, with a stable tie-breaker.
        Index("ix_tasks_user_created", "user_id", text("created_at DESC"), text("id DESC")),
    )


class UserTaskCounts(Base):
    """Each user's task totals, kept by database triggers on tasks (see migration 0002)."""

    __tablename__ = "user_task_counts"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    completed: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class SavedView(Base):
    """A named filter and sort a user keeps (the list parameters, validated when saved)."""

    __tablename__ = "saved_views"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    query: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())

    __table_args__ = (UniqueConstraint("user_id", "name"),)


class UserSequence(Base):
    """The last audit sequence number handed out per user (gap-free, commit-ordered)."""

    __tablename__ = "user_sequences"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class TaskEvent(Base):
    """The immutable audit trail: one row per task mutation; the database rejects UPDATE and DELETE."""

    __tablename__ = "task_events"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    event_type: Mapped[str] = mapped_column(String(16), nullable=False)
    event_data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("user_id", "seq"),
        CheckConstraint(
            "event_type IN ('created', 'updated', 'completed', 'uncompleted', 'deleted')", name="event_type"
        ),
        Index("ix_task_events_task_seq", "task_id", "seq"),
    )


class OutboxMessage(Base):
    """An event committed with its write and not yet confirmed by the broker."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    topic: Mapped[str] = mapped_column(String(255), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    next_attempt_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0", default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(TZ)

    __table_args__ = (
        # The relay only ever looks at what is still unpublished: keep that index tiny.
        Index(
            "ix_outbox_pending",
            "next_attempt_at",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
        Index("ix_outbox_published_at", "published_at", postgresql_where=text("published_at IS NOT NULL")),
    )


__all__ = ["Base", "Task", "TaskEvent", "SavedView", "UserSequence", "OutboxMessage", "PRIORITIES", "EVENT_TYPES"]


# Recurring tasks (migration 0003) ----------------------------------------------------------------

RECURRENCE_STATUSES = ("active", "paused", "ended")


class RecurringTask(Base):
    """A recurring task template: the fields each occurrence copies, and its rule (Rule.to_dict())."""

    __tablename__ = "recurring_tasks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(6), nullable=False, server_default="MEDIUM", default="MEDIUM")
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]"), default=list
    )
    rule: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False, server_default="active", default="active")
    #: Due time of the newest occurrence while the template is active; NULL when paused or ended.
    next_occurrence: Mapped[datetime | None] = mapped_column(TZ)
    occurrences_created: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0", default=0)
    #: Reminder offsets (before the due date) each new occurrence gets (migration 0005).
    reminders: Mapped[list[timedelta]] = mapped_column(
        ARRAY(Interval), nullable=False, server_default=text("'{}'::interval[]"), default=list
    )
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    #: Bumped by the user's edits (PATCH, pause, resume), not by the agent creating occurrences.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1", default=1)

    __table_args__ = (
        CheckConstraint("priority IN ('LOW', 'MEDIUM', 'HIGH')", name="priority"),
        CheckConstraint("status IN ('active', 'paused', 'ended')", name="status"),
        CheckConstraint("char_length(title) BETWEEN 1 AND 255", name="title_length"),
        CheckConstraint("cardinality(tags) <= 10", name="tag_count"),
        CheckConstraint("cardinality(reminders) <= 5", name="reminder_count"),
        Index("ix_recurring_tasks_user_created", "user_id", text("created_at DESC"), text("id DESC")),
    )


class RecurrenceOccurrence(Base):
    """One slot of a template that became a task. The primary key (template_id, slot) is what makes
    creating an occurrence exactly-once: whoever inserts the row creates the task."""

    __tablename__ = "recurrence_occurrences"

    template_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("recurring_tasks.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[datetime] = mapped_column(TZ, primary_key=True)
    #: 0-based position of the slot in the rule's series (NULL for unbounded cron rules, see recurrence.py).
    occurrence_index: Mapped[int | None] = mapped_column(Integer)
    #: No foreign key: the row outlives a deleted task, so the slot stays taken.
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    #: Slots that were already past when the previous occurrence was finished (finished late), oldest first.
    skipped_slots: Mapped[list[datetime]] = mapped_column(
        ARRAY(TZ), nullable=False, server_default=text("'{}'::timestamptz[]"), default=list
    )
    #: More slots were skipped than `skipped_slots` holds (recurrence.MAX_SKIPPED).
    skipped_truncated: Mapped[bool] = mapped_column(nullable=False, server_default=text("false"), default=False)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())

    __table_args__ = (
        Index("uq_recurrence_occurrences_task_id", "task_id", unique=True),
    )


class ProcessedEvent(Base):
    """Event ids a consumer has applied, written in the same transaction as the effect (dedupe on replay)."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())

    __table_args__ = (Index("ix_processed_events_processed_at", "processed_at"),)


class CalendarToken(Base):
    """The secret of a user's iCalendar feed URL; only its SHA-256 is stored, so a database dump
    does not hand out working feed URLs."""

    __tablename__ = "calendar_tokens"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())


__all__ += ["RecurringTask", "RecurrenceOccurrence", "ProcessedEvent", "CalendarToken", "RECURRENCE_STATUSES"]


# Reminders and notifications (migration 0004) ----------------------------------------------------



class Reminder(Base):
    """When to remind a user of a task: at a fixed instant, or `before_due` ahead of its due date."""

    __tablename__ = "reminders"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    remind_at: Mapped[datetime] = mapped_column(TZ, nullable=False)
    #: Set for relative reminders: remind_at follows the task's due date minus this.
    before_due: Mapped[timedelta | None] = mapped_column(Interval)
    sent: Mapped[bool] = mapped_column(nullable=False, server_default=text("false"), default=False)
    sent_at: Mapped[datetime | None] = mapped_column(TZ)
    #: The notification that delivered it (a batched notification covers several reminders).
    notification_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())

    __table_args__ = (
        CheckConstraint("before_due IS NULL OR before_due > interval '0'", name="before_due_positive"),
        CheckConstraint("sent = (sent_at IS NOT NULL)", name="sent_at"),
        Index("ix_reminders_due", "remind_at", postgresql_where=text("NOT sent")),
        Index("ix_reminders_user_id_remind_at", "user_id", "remind_at"),
        Index("ix_reminders_task_id", "task_id"),
    )


class Notification(Base):
    """An in-app notification. UNIQUE reminder_id is what makes a reminder notify exactly once."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    reminder_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("reminders.id", ondelete="SET NULL"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, server_default="", default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"), default=dict)
    read_at: Mapped[datetime | None] = mapped_column(TZ)
    snoozed_until: Mapped[datetime | None] = mapped_column(TZ)
    #: The snooze end whose delivery a worker has taken (agents/snoozes.py).
    resurfaced_until: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())

    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", text("created_at DESC"), text("id DESC")),
        Index("ix_notifications_snooze_pending", "snoozed_until",
              postgresql_where=text("snoozed_until IS DISTINCT FROM resurfaced_until")),
    )


class Webhook(Base):
    """A user's HTTP endpoint for task.* and reminder.* events, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    secret: Mapped[str] = mapped_column(String(255), nullable=False)
    active: Mapped[bool] = mapped_column(nullable=False, server_default=text("true"), default=True)
    #: Failed attempts in a row, across deliveries; reaching the limit disables the webhook.
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0", default=0)
    disabled_at: Mapped[datetime | None] = mapped_column(TZ)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())

    __table_args__ = (
        CheckConstraint("cardinality(events) >= 1", name="events"),
        Index("ix_webhooks_user_id", "user_id"),
    )


class WebhookDelivery(Base):
    """One event to POST to one webhook, and how its attempts went (the delivery log)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, server_default="pending", default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0", default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(TZ)

    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        Index("ix_webhook_deliveries_pending", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", text("created_at DESC")),
    )


class NotificationSettings(Base):
    """Where a user's reminders go besides the in-app inbox (email, when SMTP_URL is configured)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    #: NULL until the link sent to `email` is followed; only a confirmed address gets reminders.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(TZ)
    #: sha256 of the link's single-use token; the token itself is only in the email.
    confirmation_token_hash: Mapped[str | None] = mapped_column(String(64))
    confirmation_expires_at: Mapped[datetime | None] = mapped_column(TZ)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(TZ)

    __table_args__ = (
        Index("ix_notification_settings_confirmation_token_hash", "confirmation_token_hash", unique=True,
              postgresql_where=text("confirmation_token_hash IS NOT NULL")),
    )


class EmailDelivery(Base):
    """A notification to send by email; UNIQUE (notification_id, resurfaced_until): one email per
    notification, and one more each time its snooze ends. No notification: an address confirmation."""

    __tablename__ = "email_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    notification_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("notifications.id", ondelete="CASCADE")
    )
    resurfaced_until: Mapped[datetime | None] = mapped_column(TZ)
    to_address: Mapped[str] = mapped_column(String(254), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    text_body: Mapped[str] = mapped_column(Text, nullable=False)
    html_body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, server_default="pending", default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0", default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(TZ)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("uq_email_deliveries_notification_id_resurfaced_until", "notification_id", "resurfaced_until",
              unique=True, postgresql_nulls_not_distinct=True, postgresql_where=text("notification_id IS NOT NULL")),
        Index("ix_email_deliveries_pending", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )


__all__ += ["Reminder", "Notification", "Webhook", "WebhookDelivery", "NotificationSettings", "EmailDelivery"]


# User settings (migration 0009) -------------------------------------------------------------------


class UserSettings(Base):
    """A user's preferences; no row means the defaults (time zone UTC)."""

    __tablename__ = "user_settings"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: An IANA zone name: what "today" means in filters, how reminder texts read, when all-day tasks fall due.
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC", default="UTC")
    updated_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=func.now())


__all__ += ["UserSettings"]
