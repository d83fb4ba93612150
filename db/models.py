"""SQLAlchemy 2.0 models: tasks, the append-only audit trail and the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Computed,
    CheckConstraint,
    Identity,
    Index,
    Integer,
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

PRIORITIES = ("LOW", "MEDIUM", "HIGH")
EVENT_TYPES = ("created", "updated", "completed", "uncompleted", "deleted")

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
