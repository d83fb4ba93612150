"""Reminder emails go only to a confirmed address.

`notification_settings` gains the confirmation state: when the address was confirmed
(`email_confirmed_at`, NULL until then), the sha256 of the single-use token the confirmation link
carries, when that token expires, and when the last link was sent (for the resend rate limit).

Addresses set before this revision count as confirmed (at this revision's time): their owners were
already getting reminders, and asking them now would silently stop their mail until they notice.

A confirmation email is an `email_deliveries` row with no notification, so `notification_id` may be
NULL; the one-email-per-notification-and-snooze-end rule becomes a partial unique index over the
rows that have one (NULLS NOT DISTINCT would otherwise allow only one confirmation email ever).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("notification_settings", sa.Column("email_confirmed_at", TZ))
    op.add_column("notification_settings", sa.Column("confirmation_token_hash", sa.String(64)))
    op.add_column("notification_settings", sa.Column("confirmation_expires_at", TZ))
    op.add_column("notification_settings", sa.Column("confirmation_sent_at", TZ))
    op.create_index("ix_notification_settings_confirmation_token_hash", "notification_settings",
                    ["confirmation_token_hash"], unique=True,
                    postgresql_where=sa.text("confirmation_token_hash IS NOT NULL"))
    op.execute("UPDATE notification_settings SET email_confirmed_at = now() WHERE email IS NOT NULL")

    op.alter_column("email_deliveries", "notification_id", nullable=True)
    op.drop_constraint("uq_email_deliveries_notification_id_resurfaced_until", "email_deliveries", type_="unique")
    op.execute("""
        CREATE UNIQUE INDEX uq_email_deliveries_notification_id_resurfaced_until
        ON email_deliveries (notification_id, resurfaced_until) NULLS NOT DISTINCT
        WHERE notification_id IS NOT NULL
    """)


def downgrade() -> None:
    # The earlier schema has no confirmation emails: the queued ones go.
    op.execute("DELETE FROM email_deliveries WHERE notification_id IS NULL")
    op.drop_index("uq_email_deliveries_notification_id_resurfaced_until", table_name="email_deliveries")
    op.execute("""
        ALTER TABLE email_deliveries ADD CONSTRAINT uq_email_deliveries_notification_id_resurfaced_until
        UNIQUE NULLS NOT DISTINCT (notification_id, resurfaced_until)
    """)
    op.alter_column("email_deliveries", "notification_id", nullable=False)
    # Unconfirmed addresses were never mailed: the earlier schema would mail them, so they go.
    op.execute("UPDATE notification_settings SET email = NULL WHERE email_confirmed_at IS NULL")
    op.drop_index("ix_notification_settings_confirmation_token_hash", table_name="notification_settings")
    for column in ("confirmation_sent_at", "confirmation_expires_at", "confirmation_token_hash", "email_confirmed_at"):
        op.drop_column("notification_settings", column)
