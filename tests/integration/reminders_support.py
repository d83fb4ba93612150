"""Helpers for the reminder tests: a database and broker of a module's own, so the session worker stays out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from stack import start_broker

from db import migrate


@contextmanager
def isolated_stack(embedded_pg, tmp) -> Iterator[tuple[str, object]]:
    """(database URL, broker): a fresh migrated database on the embedded server and a fresh broker."""
    name = f"reminders_{uuid.uuid4().hex[:8]}"
    embedded_pg.psql("postgres", f"CREATE DATABASE {name}")
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{embedded_pg.port}/{name}"
    broker = None
    try:
        migrate.upgrade(url)
        broker = start_broker(tmp)
        yield url, broker
    finally:
        if broker is not None:
            broker.stop()
        embedded_pg.psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")
