"""Tasks, the append-only audit trail with per-user sequence numbers, and the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("completed", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("completed_at", TZ),
        sa.Column("due_date", TZ),
        sa.Column("priority", sa.String(6), nullable=False, server_default="MEDIUM"),
        sa.Column("tags", pg.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("recurring_task_id", pg.UUID(as_uuid=True)),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("priority IN ('LOW', 'MEDIUM', 'HIGH')", name="ck_tasks_priority"),
        sa.CheckConstraint("char_length(title) BETWEEN 1 AND 255", name="ck_tasks_title_length"),
        sa.CheckConstraint("cardinality(tags) <= 10", name="ck_tasks_tag_count"),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index(
        "ix_tasks_user_created", "tasks", ["user_id", sa.text("created_at DESC"), sa.text("id DESC")]
    )

    op.create_table(
        "user_sequences",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_sequences"),
    )

    op.create_table(
        "task_events",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("task_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("event_data", pg.JSONB(), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_task_events"),
        sa.UniqueConstraint("user_id", "seq", name="uq_task_events_user_id_seq"),
        sa.CheckConstraint(
            "event_type IN ('created', 'updated', 'completed', 'uncompleted', 'deleted')",
            name="ck_task_events_event_type",
        ),
    )
    op.create_index("ix_task_events_task_seq", "task_events", ["task_id", "seq"])
    # The audit trail is immutable: the database itself refuses to change or remove history.
    op.execute(
        """
        CREATE FUNCTION task_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'task_events is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER task_events_no_update_delete BEFORE UPDATE OR DELETE ON task_events "
        "FOR EACH ROW EXECUTE FUNCTION task_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER task_events_no_truncate BEFORE TRUNCATE ON task_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION task_events_append_only()"
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("payload", pg.JSONB(), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.Column("published_at", TZ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index(
        "ix_outbox_pending", "outbox", ["next_attempt_at", "id"], postgresql_where=sa.text("published_at IS NULL")
    )
    op.create_index(
        "ix_outbox_published_at", "outbox", ["published_at"], postgresql_where=sa.text("published_at IS NOT NULL")
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("task_events")
    op.execute("DROP FUNCTION task_events_append_only()")
    op.drop_table("user_sequences")
    op.drop_table("tasks")
