"""Which database errors become a 503 worth retrying, and what the client is told."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exc as sa_exc

from db.engine import describe_failure


class DriverError(Exception):
    def __init__(self, sqlstate: str, message: str = "") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def dbapi(cls: type[sa_exc.DBAPIError], sqlstate: str, message: str = "boom") -> sa_exc.DBAPIError:
    return cls("SELECT 1", {}, DriverError(sqlstate, message))


def test_a_statement_timeout_names_the_limit_and_says_to_retry():
    failure = describe_failure(dbapi(sa_exc.DBAPIError, "57014", "canceling statement due to statement timeout"),
                               statement_timeout_ms=1500)
    assert failure.reason == "statement_timeout"
    assert "1.5 s" in failure.message and "retry" in failure.message


def test_a_full_pool_is_a_pool_timeout_naming_the_wait():
    failure = describe_failure(sa_exc.TimeoutError("QueuePool limit reached"), connect_timeout_ms=5000)
    assert failure.reason == "pool_timeout" and "5 s" in failure.message


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connect call failed"),
    OSError("no route to host"),
    dbapi(sa_exc.InterfaceError, "", "connection is closed"),
    dbapi(sa_exc.DBAPIError, "57P01", "terminating connection due to administrator command"),
    dbapi(sa_exc.DBAPIError, "57P03", "the database system is starting up"),
    dbapi(sa_exc.DBAPIError, "08006", "connection failure"),
    dbapi(sa_exc.DBAPIError, "53300", "too many clients already"),
])
def test_an_unreachable_database_is_unreachable(error):
    assert describe_failure(error).reason == "unreachable"


@pytest.mark.parametrize("error", [TimeoutError(), asyncio.TimeoutError()])
def test_a_client_side_timeout_is_a_timeout_not_unreachable(error):
    assert describe_failure(error).reason == "timeout"


@pytest.mark.parametrize("error", [
    dbapi(sa_exc.IntegrityError, "23505", "duplicate key"),
    dbapi(sa_exc.DBAPIError, "22P02", "invalid input syntax"),
    ValueError("a bug"),
    KeyError("another"),
])
def test_anything_else_is_not_mapped_to_503(error):
    assert describe_failure(error) is None
