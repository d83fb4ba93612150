"""A snoozed notification is delivered again when its snooze ends, once.

`notifications.resurfaced_until` is the snooze end whose delivery a worker has taken: the sweep
claims a notification whose `snoozed_until` has passed and differs from it, in the UPDATE that sets
it, so two workers never both deliver one snooze end. The partial index holds only notifications
with a snooze still to deliver, which keeps the sweep one cheap indexed query.

An email is now unique per notification and snooze end (`email_deliveries.resurfaced_until`, NULL
for the first delivery; NULLS NOT DISTINCT needs PostgreSQL 15).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("notifications", sa.Column("resurfaced_until", TZ))
    # Snoozes that ended before this revision already came back (silently): not delivered now.
    op.execute("UPDATE notifications SET resurfaced_until = snoozed_until WHERE snoozed_until <= now()")
    op.create_index(
        "ix_notifications_snooze_pending", "notifications", ["snoozed_until"],
        postgresql_where=sa.text("snoozed_until IS DISTINCT FROM resurfaced_until"),
    )

    op.add_column("email_deliveries", sa.Column("resurfaced_until", TZ))
    op.drop_constraint("uq_email_deliveries_notification_id", "email_deliveries", type_="unique")
    op.execute("""
        ALTER TABLE email_deliveries ADD CONSTRAINT uq_email_deliveries_notification_id_resurfaced_until
        UNIQUE NULLS NOT DISTINCT (notification_id, resurfaced_until)
    """)


def downgrade() -> None:
    # The earlier schema allows one email per notification: the resent ones go.
    op.execute("DELETE FROM email_deliveries WHERE resurfaced_until IS NOT NULL")
    op.drop_constraint("uq_email_deliveries_notification_id_resurfaced_until", "email_deliveries", type_="unique")
    op.create_unique_constraint("uq_email_deliveries_notification_id", "email_deliveries", ["notification_id"])
    op.drop_column("email_deliveries", "resurfaced_until")
    op.drop_index("ix_notifications_snooze_pending", table_name="notifications")
    op.drop_column("notifications", "resurfaced_until")
