"""Reminder offsets on recurring templates: each new occurrence gets a reminder this long before it is due.

Also drops reminders.claimed_at: the schedule now lives in a windowed Faust table (agents/reminders.py),
not in leases on the reminder rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "recurring_tasks",
        sa.Column("reminders", pg.ARRAY(sa.Interval()), nullable=False, server_default=sa.text("'{}'::interval[]")),
    )
    op.create_check_constraint(op.f("ck_recurring_tasks_reminder_count"), "recurring_tasks", "cardinality(reminders) <= 5")
    op.drop_column("reminders", "claimed_at")


def downgrade() -> None:
    op.add_column("reminders", sa.Column("claimed_at", sa.TIMESTAMP(timezone=True)))
    op.drop_constraint(op.f("ck_recurring_tasks_reminder_count"), "recurring_tasks", type_="check")
    op.drop_column("recurring_tasks", "reminders")
