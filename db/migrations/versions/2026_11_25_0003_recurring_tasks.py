"""Recurring task templates, their occurrences (one row per slot), consumer dedupe and calendar feed tokens.

Exactly-once creation of occurrences rests on two keys: recurrence_occurrences' primary key
(template_id, slot), claimed with INSERT ... ON CONFLICT DO NOTHING by whoever creates the task, and
processed_events' primary key (consumer, event_id), written in the same transaction as the effect.

tasks.recurring_task_id gets an index but no foreign key: bulk-loaded benchmark data (streams/cli/seed.py)
carries template ids that do not exist, and deleting a template unlinks its tasks explicitly, each
with its own audit row, which a foreign key's ON DELETE SET NULL would skip.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recurring_tasks",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("priority", sa.String(6), nullable=False, server_default="MEDIUM"),
        sa.Column("tags", pg.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("rule", pg.JSONB(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False, server_default="active"),
        sa.Column("next_occurrence", TZ),
        sa.Column("occurrences_created", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_recurring_tasks"),
        sa.CheckConstraint("priority IN ('LOW', 'MEDIUM', 'HIGH')", name="ck_recurring_tasks_priority"),
        sa.CheckConstraint("status IN ('active', 'paused', 'ended')", name="ck_recurring_tasks_status"),
        sa.CheckConstraint("char_length(title) BETWEEN 1 AND 255", name="ck_recurring_tasks_title_length"),
        sa.CheckConstraint("cardinality(tags) <= 10", name="ck_recurring_tasks_tag_count"),
    )
    op.create_index(
        "ix_recurring_tasks_user_created", "recurring_tasks",
        ["user_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )

    op.create_table(
        "recurrence_occurrences",
        sa.Column("template_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("slot", TZ, nullable=False),
        sa.Column("occurrence_index", sa.Integer()),
        sa.Column("task_id", pg.UUID(as_uuid=True)),
        sa.Column("skipped_slots", pg.ARRAY(TZ), nullable=False, server_default=sa.text("'{}'::timestamptz[]")),
        sa.Column("skipped_truncated", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        # The primary key is the UNIQUE (template_id, slot) that decides who creates a slot's task.
        sa.PrimaryKeyConstraint("template_id", "slot", name="pk_recurrence_occurrences"),
        sa.ForeignKeyConstraint(
            ["template_id"], ["recurring_tasks.id"], ondelete="CASCADE",
            name="fk_recurrence_occurrences_template_id_recurring_tasks",
        ),
    )
    op.create_index("uq_recurrence_occurrences_task_id", "recurrence_occurrences", ["task_id"], unique=True)

    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("processed_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_processed_events"),
    )
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"])

    op.create_table(
        "calendar_tokens",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("user_id", name="pk_calendar_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_calendar_tokens_token_hash"),
    )

    # Unlinking a deleted template's tasks, and the occurrence listing, find tasks by template.
    op.create_index(
        "ix_tasks_recurring_task_id", "tasks", ["recurring_task_id"],
        postgresql_where=sa.text("recurring_task_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_recurring_task_id", table_name="tasks")
    op.drop_table("calendar_tokens")
    op.drop_table("processed_events")
    op.drop_table("recurrence_occurrences")
    op.drop_table("recurring_tasks")
