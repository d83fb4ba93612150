"""The database handle: an async engine and session factory, made on the worker's running loop."""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


#: Per-connection settings. Word similarity (pg_trgm) above which a misspelt or partial word still
#: finds a title (the default 0.6 misses one-letter typos in short words). And always plan for the
#: actual parameters: after five runs a prepared statement may switch to a generic plan that assumes
#: an average user, which for a user with 50,000 tasks sorted 9,000 matching rows instead of walking
#: an index (91 ms instead of 9 ms in the query benchmark's EXPLAIN).
SERVER_SETTINGS = {"pg_trgm.word_similarity_threshold": "0.4", "plan_cache_mode": "force_custom_plan"}


def redact_url(url: str) -> str:
    """The URL with its password hidden, for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def _observe(engine: AsyncEngine) -> None:
    """Statement latency and pool usage as Prometheus metrics."""
    from sqlalchemy import event

    from streams import metrics

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _started(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        conn.info.setdefault("query_started", []).append(time.perf_counter())

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _finished(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        started = conn.info["query_started"].pop()
        metrics.DB_QUERY_LATENCY.observe(time.perf_counter() - started)

    pool = engine.sync_engine.pool
    metrics.DB_POOL.labels("checked_out").set_function(pool.checkedout)
    metrics.DB_POOL.labels("idle").set_function(pool.checkedin)


class Database:
    """One engine per process, created at start-up and disposed at shutdown.

    No pre-ping: it costs three round trips per checkout. A connection the server dropped fails
    its request with a 503 and is discarded; the next checkout connects afresh.
    """

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            echo=echo,
            json_serializer=lambda obj: json.dumps(obj, separators=(",", ":")),
            connect_args={"server_settings": SERVER_SETTINGS},
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        _observe(self.engine)
        # Same pool, no BEGIN/COMMIT round trips: for reads and for writes that are one statement.
        self.autocommit_sessions = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncSession]:
        """A session whose every statement commits on its own (each is atomic; together they are not)."""
        async with self.autocommit_sessions() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)})"
