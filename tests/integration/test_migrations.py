"""Migrations go up to head and back down to nothing, on a database of their own."""

from __future__ import annotations

import uuid

import pytest

from db import migrate

pytestmark = pytest.mark.integration

TABLES = {
    "tasks", "task_events", "user_sequences", "outbox", "saved_views",
    "recurring_tasks", "recurrence_occurrences", "processed_events", "calendar_tokens",
    "reminders", "notifications", "webhooks", "webhook_deliveries", "notification_settings", "email_deliveries",
    "rate_limits",
}


def tables(pg, database: str) -> set[str]:
    rows = pg.psql(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {line for line in rows.splitlines() if line}


def test_upgrade_to_head_then_downgrade_to_base_and_up_again(embedded_pg):
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    embedded_pg.psql("postgres", f"CREATE DATABASE {name}")
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{embedded_pg.port}/{name}"
    try:
        migrate.upgrade(url)
        assert TABLES <= tables(embedded_pg, name)
        assert embedded_pg.psql(name, "SELECT version_num FROM alembic_version").strip() == "0009"

        migrate.downgrade(url, "base")
        assert tables(embedded_pg, name) == {"alembic_version"}
        assert embedded_pg.psql(name, "SELECT count(*) FROM pg_proc WHERE proname = 'task_events_append_only'").strip() == "0"

        migrate.upgrade(url)
        assert TABLES <= tables(embedded_pg, name)
    finally:
        embedded_pg.psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")
