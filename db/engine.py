"""The database handle: an async engine and session factory, made on the worker's running loop."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


#: Per-connection settings. Word similarity (pg_trgm) above which a misspelt or partial word still
#: finds a title (the default 0.6 misses one-letter typos in short words): `%>` for the filter language's
#: text terms, and the stricter whole-word `%>>` a search falls back to when full text finds too little
#: ("plumbr" finds "plumber" at 0.5, "café" no longer finds "cards" at 0.22). And always plan for the
#: actual parameters: after five runs a prepared statement may switch to a generic plan that assumes
#: an average user, which for a user with 50,000 tasks sorted 9,000 matching rows instead of walking
#: an index (91 ms instead of 9 ms in the query benchmark's EXPLAIN).
#: TimeZone: timestamptz arithmetic with days happens in the session's zone; pinned, so a server or
#: database default (a host's local zone) cannot shift it by an hour across a DST change.
SERVER_SETTINGS = {"pg_trgm.word_similarity_threshold": "0.4", "pg_trgm.strict_word_similarity_threshold": "0.45",
                   "plan_cache_mode": "force_custom_plan", "TimeZone": "UTC"}
#: The client gives up on a statement this long after the server's statement_timeout should have
#: cancelled it: a server that stopped answering (a network partition) must not hold a request forever.
CLIENT_TIMEOUT_MARGIN = 2.0
#: How much longer than a connect the lean pool waits for a free connection (see Database.connection).
ACQUIRE_MARGIN = 0.5

#: SQLSTATEs that mean "the database is unavailable right now", not "the request is wrong":
#: connection exceptions (class 08), the server shutting down or starting (57P01-57P03), too many
#: connections (53300).
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "53300")
#: query_canceled: the statement timeout (or an operator's pg_cancel_backend).
_CANCELLED = "57014"
#: deadlock_detected and serialization_failure: another transaction won; running it again may succeed.
_CONFLICT_STATES = ("40P01", "40001")
_RETRY = "retry shortly"


class PoolTimeout(TimeoutError):
    """No pooled connection became free in time: the service is overloaded."""


@dataclass(frozen=True)
class Unavailable:
    """Why a request could not be served by the database, in words a client can act on."""

    reason: str
    message: str


def _limit(ms: int | None) -> str:
    return f"{ms / 1000:g} s" if ms else "its time limit"


def describe_failure(
    exc: BaseException, *, statement_timeout_ms: int | None = None, connect_timeout_ms: int | None = None
) -> Unavailable | None:
    """An Unavailable when `exc` means the database is unreachable or too slow right now (worth a
    503 and a retry), None for any other error (a bug, or a constraint the caller maps itself)."""
    if isinstance(exc, (sa_exc.TimeoutError, PoolTimeout)):
        return Unavailable("pool_timeout", f"no database connection became free within "
                                           f"{_limit(connect_timeout_ms)} (the service is overloaded); {_RETRY}")
    if isinstance(exc, sa_exc.DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or ""
        if state == _CANCELLED:
            return Unavailable("statement_timeout", f"the database did not finish within "
                                                    f"{_limit(statement_timeout_ms)} (statement timeout); {_RETRY}")
        if (exc.connection_invalidated or isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))
                or state.startswith("08") or state in _UNAVAILABLE_STATES):
            return Unavailable("unreachable", f"the database is not reachable right now; {_RETRY}")
        return None
    if isinstance(exc, asyncpg.PostgresError):  # the lean path's raw connections
        state = exc.sqlstate or ""
        if state == _CANCELLED:
            return Unavailable("statement_timeout", f"the database did not finish within "
                                                    f"{_limit(statement_timeout_ms)} (statement timeout); {_RETRY}")
        if state.startswith("08") or state in _UNAVAILABLE_STATES:
            return Unavailable("unreachable", f"the database is not reachable right now; {_RETRY}")
        return None
    if isinstance(exc, (asyncpg.InterfaceError, asyncpg.exceptions.ConnectionDoesNotExistError)):
        return Unavailable("unreachable", f"the database is not reachable right now; {_RETRY}")
    # TimeoutError before OSError, its base class: connecting, or the client-side statement bound.
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return Unavailable("timeout", f"the database did not answer in time; {_RETRY}")
    if isinstance(exc, (ConnectionError, OSError)):
        return Unavailable("unreachable", f"the database is not reachable right now; {_RETRY}")
    return None


def retry_kind(exc: BaseException) -> str | None:
    """How a consumer should take a database error: "conflict" (run it again now), "unavailable"
    (again after a pause: see describe_failure) or None (not worth retrying)."""
    if isinstance(exc, sa_exc.DBAPIError) and (getattr(exc.orig, "sqlstate", None) or "") in _CONFLICT_STATES:
        return "conflict"
    if isinstance(exc, asyncpg.PostgresError) and (exc.sqlstate or "") in _CONFLICT_STATES:
        return "conflict"
    return "unavailable" if describe_failure(exc) is not None else None


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under an ORM session, inside the session's transaction: how code that holds
    a session calls the lean path's query functions (db.tasks) without a second connection."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    if not raw.is_in_transaction() and connection.get_isolation_level() != "AUTOCOMMIT":
        # SQLAlchemy sends BEGIN lazily, with its first statement: make it begin now, so the
        # statements run on the raw connection belong to the session's transaction.
        await connection.exec_driver_sql("SELECT 1")
    return raw


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


async def _roll_back_leftovers(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the lean pool: only a transaction left open, if any.

    asyncpg's default reset (advisory unlock, CLOSE ALL, UNLISTEN *, RESET ALL) is a round trip on every
    release, a seventh of a listing's cost; the lean path never leaves that state behind, and its
    transactions end in their context managers.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class Database:
    """One engine per process, created at start-up and disposed at shutdown.

    No pre-ping: it costs three round trips per checkout. A connection the server dropped fails
    its request with a 503 and is discarded; a disconnect invalidates the whole pool, so the next
    checkouts connect afresh and a restarted server is used again without a worker restart.

    The worker passes timeouts, so nothing waits on the database unbounded: `statement_timeout_ms`
    (the server cancels a longer statement; the client gives up CLIENT_TIMEOUT_MARGIN later) and
    `connect_timeout_ms` (connecting, and waiting for a free pooled connection). Tools such as
    `taskstream seed` pass none: a bulk COPY may run for minutes.
    """

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False, statement_timeout_ms: int | None = None,
                 connect_timeout_ms: int | None = None) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self.statement_timeout_ms = statement_timeout_ms or None
        self.connect_timeout_ms = connect_timeout_ms
        server_settings = dict(SERVER_SETTINGS)
        connect_args: dict = {"server_settings": server_settings}
        pool_options: dict = {}
        if self.statement_timeout_ms:
            server_settings["statement_timeout"] = str(self.statement_timeout_ms)
            connect_args["command_timeout"] = self.statement_timeout_ms / 1000 + CLIENT_TIMEOUT_MARGIN
        if connect_timeout_ms:
            connect_args["timeout"] = connect_timeout_ms / 1000
            pool_options["pool_timeout"] = connect_timeout_ms / 1000
        self.engine: AsyncEngine = create_async_engine(
            url,
            # No overflow: the task routes' raw pool (pool()) holds the other pool_size connections, so a
            # worker still opens at most 2 x pool_size, as it did when the ORM alone overflowed to that.
            pool_size=pool_size,
            max_overflow=0,
            echo=echo,
            json_serializer=lambda obj: json.dumps(obj, separators=(",", ":")),
            connect_args=connect_args,
            **pool_options,
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._server_settings = server_settings
        self._connect_args = connect_args
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

    async def pool(self) -> asyncpg.Pool:
        """The lean path's own asyncpg pool, beside the ORM's: the hot routes run their prepared SQL on
        it without a session (asyncpg prepares each statement text once per connection and reuses it)."""
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
                    options = {k: v for k, v in self._connect_args.items() if k != "server_settings"}
                    self._pool = await asyncpg.create_pool(
                        dsn, min_size=1, max_size=self.pool_size, server_settings=self._server_settings,
                        max_inactive_connection_lifetime=60, reset=_roll_back_leftovers, **options)
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A raw asyncpg connection from the lean pool; statements autocommit unless the caller opens
        a transaction on it (`async with conn.transaction()`)."""
        pool = self._pool or await self.pool()
        # Waiting for a free connection gets a little longer than connecting does, so that a server that
        # does not answer a new connection fails as a connect timeout, not as an overloaded pool.
        wait = self.connect_timeout_ms / 1000 + ACQUIRE_MARGIN if self.connect_timeout_ms else None
        started = time.monotonic()
        try:
            conn = await pool.acquire(timeout=wait)
        except asyncio.TimeoutError:
            if wait is not None and time.monotonic() - started >= wait - 0.05:
                raise PoolTimeout("no connection of the lean pool became free") from None
            raise
        try:
            yield conn
        finally:
            await pool.release(conn)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    def describe_failure(self, exc: BaseException) -> Unavailable | None:
        """See the module's describe_failure; the message names this engine's limits."""
        return describe_failure(exc, statement_timeout_ms=self.statement_timeout_ms,
                                connect_timeout_ms=self.connect_timeout_ms)

    async def dispose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except (asyncio.TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)})"
