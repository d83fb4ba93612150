"""Full-text and trigram search, sort keys and their indexes, per-user task counts, saved views.

Every index leads with user_id, so no query ever scans other users' rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.TIMESTAMP(timezone=True)

SEARCH_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')"
)
PRIORITY_RANK = "CASE priority WHEN 'LOW' THEN 1 WHEN 'MEDIUM' THEN 2 ELSE 3 END"

# (name, columns) of the btree indexes behind each sort order and keyset cursor. Tasks without a
# due date (or completion) sort last in both orders: the sort key maps NULL to +/-infinity, so a
# keyset cursor is one row comparison that an index range scan answers at any depth.
SORT_INDEXES = (
    ("ix_tasks_user_due", "user_id, coalesce(due_date, 'infinity'::timestamptz), id"),
    ("ix_tasks_user_due_desc", "user_id, coalesce(due_date, '-infinity'::timestamptz), id"),
    ("ix_tasks_user_priority", "user_id, priority_rank, id"),
    ("ix_tasks_user_updated", "user_id, updated_at, id"),
    ("ix_tasks_user_completed_at", "user_id, coalesce(completed_at, 'infinity'::timestamptz), id"),
    ("ix_tasks_user_completed_at_desc", "user_id, coalesce(completed_at, '-infinity'::timestamptz), id"),
    ("ix_tasks_user_title", "user_id, title, id"),
)


def upgrade() -> None:
    # btree_gin lets one GIN index lead with user_id; pg_trgm finds misspelt and partial words.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.add_column("tasks", sa.Column("priority_rank", sa.SmallInteger(), sa.Computed(PRIORITY_RANK, persisted=True)))
    op.add_column("tasks", sa.Column("search_vector", pg.TSVECTOR(), sa.Computed(SEARCH_VECTOR, persisted=True)))
    op.execute("CREATE INDEX ix_tasks_user_search ON tasks USING gin (user_id, search_vector)")
    op.execute("CREATE INDEX ix_tasks_user_title_trgm ON tasks USING gin (user_id, title gin_trgm_ops)")
    op.execute("CREATE INDEX ix_tasks_user_tags ON tasks USING gin (user_id, tags)")
    for name, columns in SORT_INDEXES:
        op.execute(f"CREATE INDEX {name} ON tasks ({columns})")
    # Overdue and "due soon" look only at open tasks: a partial index keeps that small.
    op.execute("CREATE INDEX ix_tasks_user_open_due ON tasks (user_id, due_date) WHERE NOT completed")

    # Exact totals for the unfiltered list without counting rows: kept by statement-level triggers,
    # so every writer (the API, agents, a bulk COPY) keeps them right.
    op.create_table(
        "user_task_counts",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("completed", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_task_counts"),
    )
    op.execute(
        """
        CREATE FUNCTION user_task_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO user_task_counts AS c (user_id, total, completed)
                SELECT user_id, count(*), count(*) FILTER (WHERE completed) FROM new_rows GROUP BY user_id
                ON CONFLICT (user_id) DO UPDATE
                SET total = c.total + EXCLUDED.total, completed = c.completed + EXCLUDED.completed;
            ELSIF TG_OP = 'DELETE' THEN
                UPDATE user_task_counts AS c SET total = c.total - d.n, completed = c.completed - d.done
                FROM (SELECT user_id, count(*) AS n, count(*) FILTER (WHERE completed) AS done
                      FROM old_rows GROUP BY user_id) AS d
                WHERE c.user_id = d.user_id;
            ELSE
                UPDATE user_task_counts AS c SET completed = c.completed + d.delta
                FROM (SELECT n.user_id, sum(n.completed::int - o.completed::int) AS delta
                      FROM new_rows n JOIN old_rows o ON o.id = n.id
                      WHERE n.completed IS DISTINCT FROM o.completed GROUP BY n.user_id) AS d
                WHERE c.user_id = d.user_id;
            END IF;
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION user_task_counts_apply()"
    )
    op.execute(
        "CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION user_task_counts_apply()"
    )
    op.execute(
        "CREATE TRIGGER tasks_count_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows "
        "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_task_counts_apply()"
    )
    op.execute(
        "INSERT INTO user_task_counts (user_id, total, completed) "
        "SELECT user_id, count(*), count(*) FILTER (WHERE completed) FROM tasks GROUP BY user_id"
    )

    op.create_table(
        "saved_views",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", pg.JSONB(), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_saved_views"),
        sa.UniqueConstraint("user_id", "name", name="uq_saved_views_user_id_name"),
    )


def downgrade() -> None:
    op.drop_table("saved_views")
    for trigger in ("tasks_count_insert", "tasks_count_delete", "tasks_count_update"):
        op.execute(f"DROP TRIGGER {trigger} ON tasks")
    op.execute("DROP FUNCTION user_task_counts_apply()")
    op.drop_table("user_task_counts")
    op.execute("DROP INDEX ix_tasks_user_open_due")
    for name, _ in SORT_INDEXES:
        op.execute(f"DROP INDEX {name}")
    for name in ("ix_tasks_user_tags", "ix_tasks_user_title_trgm", "ix_tasks_user_search"):
        op.execute(f"DROP INDEX {name}")
    op.drop_column("tasks", "search_vector")
    op.drop_column("tasks", "priority_rank")
    # The extensions stay: other objects in the database may use them.
