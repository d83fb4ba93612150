"""Reminders on tasks, the notifications they produce, and their outgoing channels: webhooks and email.

Exactly-once delivery rests on notifications.reminder_id being UNIQUE (one notification per
reminder, inserted with ON CONFLICT DO NOTHING) and on the reminder being marked sent in the same
transaction, under a row lock. A batched notification names its first reminder; the others point
back at it through reminders.notification_id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("task_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("remind_at", TZ, nullable=False),
        sa.Column("before_due", sa.Interval()),
        sa.Column("sent", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("sent_at", TZ),
        sa.Column("claimed_at", TZ),
        sa.Column("notification_id", pg.UUID(as_uuid=True)),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_reminders"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE", name="fk_reminders_task_id_tasks"),
        sa.CheckConstraint("before_due IS NULL OR before_due > interval '0'", name="ck_reminders_before_due_positive"),
        sa.CheckConstraint("sent = (sent_at IS NOT NULL)", name="ck_reminders_sent_at"),
    )
    # The scheduler's only question: what is due and unsent. Sent rows drop out of the index.
    op.create_index("ix_reminders_due", "reminders", ["remind_at"], postgresql_where=sa.text("NOT sent"))
    op.create_index("ix_reminders_user_id_remind_at", "reminders", ["user_id", "remind_at"])
    op.create_index("ix_reminders_task_id", "reminders", ["task_id"])

    op.create_table(
        "notifications",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("reminder_id", pg.UUID(as_uuid=True)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("data", pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("read_at", TZ),
        sa.Column("snoozed_until", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("reminder_id", name="uq_notifications_reminder_id"),
        sa.ForeignKeyConstraint(
            ["reminder_id"], ["reminders.id"], ondelete="SET NULL", name="fk_notifications_reminder_id_reminders"
        ),
    )
    op.create_index(
        "ix_notifications_user_created", "notifications", ["user_id", sa.text("created_at DESC"), sa.text("id DESC")]
    )

    op.create_table(
        "webhooks",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", pg.ARRAY(sa.Text()), nullable=False),
        # Kept in clear: it is needed to sign every delivery (it is a shared key, not a password).
        sa.Column("secret", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("disabled_at", TZ),
        sa.Column("disabled_reason", sa.Text()),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        sa.CheckConstraint("cardinality(events) >= 1", name="ck_webhooks_events"),
    )
    op.create_index("ix_webhooks_user_id", "webhooks", ["user_id"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("webhook_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", pg.JSONB(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("delivered_at", TZ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], ondelete="CASCADE", name="fk_webhook_deliveries_webhook_id_webhooks"
        ),
        # A replayed event queues no second delivery.
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_id_event_id"),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="ck_webhook_deliveries_status"),
    )
    op.create_index(
        "ix_webhook_deliveries_pending", "webhook_deliveries", ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_created", "webhook_deliveries", ["webhook_id", sa.text("created_at DESC")]
    )

    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("user_id", name="pk_notification_settings"),
    )

    op.create_table(
        "email_deliveries",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("notification_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TZ),
        sa.PrimaryKeyConstraint("id", name="pk_email_deliveries"),
        # One email per notification, like one notification per reminder.
        sa.UniqueConstraint("notification_id", name="uq_email_deliveries_notification_id"),
        sa.ForeignKeyConstraint(
            ["notification_id"], ["notifications.id"], ondelete="CASCADE",
            name="fk_email_deliveries_notification_id_notifications",
        ),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_email_deliveries_status"),
    )
    op.create_index(
        "ix_email_deliveries_pending", "email_deliveries", ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("email_deliveries")
    op.drop_table("notification_settings")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("notifications")
    op.drop_table("reminders")
