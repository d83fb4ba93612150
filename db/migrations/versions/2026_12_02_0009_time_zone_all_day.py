"""The user's time zone, and all-day tasks.

`user_settings` holds each user's IANA `time_zone` (no row: UTC). It decides what "today",
"overdue" and `due<7d` mean in the filter language, how reminder texts show times, and when an
all-day task falls due.

An all-day task keeps its calendar day in the new nullable `tasks.due_day` (a `date`, so it stays
the same day whatever the zone). `due_date` stays the one instant everything else reads: for an
all-day task it is the LAST microsecond of `due_day` in the user's zone (23:59:59.999999 local).
So without a change to any of them, sorting by due date puts the task after that day's timed
tasks, `due:today` (the local day's half-open span) matches it, `overdue` (due_date < now) holds
only once the whole day has ended, and relative reminders count back from the end of the day.
When the user changes zone, the API recomputes `due_date` of their all-day tasks (and moves their
relative reminders) in the same transaction; the day, and so the task's snapshot, do not change.

Existing tasks are all timed: `due_day` starts NULL. Downgrading keeps each all-day task as a timed
task due at the end of its day.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "user_settings",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_settings"),
    )
    op.add_column("tasks", sa.Column("due_day", sa.Date()))
    op.execute("ALTER TABLE tasks ADD CONSTRAINT ck_tasks_due_day_has_due_date "
               "CHECK (due_day IS NULL OR due_date IS NOT NULL)")


def downgrade() -> None:
    op.execute("ALTER TABLE tasks DROP CONSTRAINT ck_tasks_due_day_has_due_date")
    op.drop_column("tasks", "due_day")
    op.drop_table("user_settings")
