"""Reminder offsets on recurring templates: each new occurrence gets a reminder this long before it is due.

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


def downgrade() -> None:
    op.drop_constraint(op.f("ck_recurring_tasks_reminder_count"), "recurring_tasks", type_="check")
    op.drop_column("recurring_tasks", "reminders")
