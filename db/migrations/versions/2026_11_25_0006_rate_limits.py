"""Rate-limit buckets shared by every worker (RATE_LIMIT_STORE=postgres).

UNLOGGED: a bucket is a few seconds of throttling state, not data. Skipping the WAL keeps the
per-request UPSERT cheap; after a crash PostgreSQL empties the table, which only means every client
starts with a full bucket again. Rows are replaced in place and idle ones are deleted by the
workers, so the table stays small.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Alembic's create_table has no UNLOGGED option.
    op.execute("""
        CREATE UNLOGGED TABLE rate_limits (
            key text NOT NULL,
            tokens double precision NOT NULL,
            allowed boolean NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_rate_limits PRIMARY KEY (key)
        ) WITH (fillfactor = 70)
    """)


def downgrade() -> None:
    op.drop_table("rate_limits")
