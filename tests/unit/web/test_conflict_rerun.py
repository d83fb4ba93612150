"""A request whose transaction lost a deadlock or a serialization conflict runs again; nothing else does."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from faust.web import View
from sqlalchemy import exc as sa_exc

from web.views import base
from web.views.base import CONFLICT_ATTEMPTS, ApiView


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def dbapi(sqlstate: str) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("UPDATE tasks ...", {}, DriverError(sqlstate))


def request(**headers: str) -> SimpleNamespace:
    return SimpleNamespace(path="/api/tasks/x", query={}, method="PATCH", headers=headers,
                           match_info=SimpleNamespace(route=None, http_exception=None))


def runs(monkeypatch, failures: list[Exception]) -> list[int]:
    """Make the handler fail with `failures` in turn, then answer; return the list of runs made."""
    made: list[int] = []

    async def handler(self, req):
        made.append(len(made) + 1)
        if len(made) <= len(failures):
            raise failures[len(made) - 1]
        return "answered"

    monkeypatch.setattr(View, "dispatch", handler)
    monkeypatch.setattr(base, "CONFLICT_BACKOFF", 0.0)
    return made


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_a_deadlock_or_serialization_failure_runs_the_request_again(monkeypatch, sqlstate):
    made = runs(monkeypatch, [dbapi(sqlstate), dbapi(sqlstate)])
    assert await ApiView.dispatch(object.__new__(ApiView), request()) == "answered"
    assert made == [1, 2, 3]


async def test_a_conflict_that_persists_reaches_the_client_after_the_last_attempt(monkeypatch):
    made = runs(monkeypatch, [dbapi("40P01")] * (CONFLICT_ATTEMPTS + 1))
    with pytest.raises(sa_exc.DBAPIError):
        await ApiView.dispatch(object.__new__(ApiView), request())
    assert len(made) == CONFLICT_ATTEMPTS


@pytest.mark.parametrize("error", [dbapi("23505"), dbapi("57P01"), ValueError("a bug")])
async def test_other_errors_are_not_run_again(monkeypatch, error):
    made = runs(monkeypatch, [error])
    with pytest.raises(type(error)):
        await ApiView.dispatch(object.__new__(ApiView), request())
    assert made == [1]


async def test_a_websocket_is_never_run_again(monkeypatch):
    made = runs(monkeypatch, [dbapi("40P01")])
    with pytest.raises(sa_exc.DBAPIError):
        await ApiView.dispatch(object.__new__(ApiView), request(Upgrade="websocket"))
    assert made == [1]
