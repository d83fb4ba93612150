"""The database layer's refusals reach the client as the API's JSON errors, mapped in one place."""

from __future__ import annotations

import json
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from db import errors as db
from db.listing import CursorError
from web.errors import ApiError, from_query_error
from web.middleware import errors_and_request_id

TASK = uuid.UUID("0b9b4a52-5f4c-4c71-9a57-3c1f2d0e8a11")


def body(error: ApiError) -> tuple[int, dict]:
    response = error.response()
    return response.status, json.loads(response.body)


def test_not_found_is_a_404_naming_what_and_which():
    assert body(from_query_error(db.NotFound("recurring task", TASK))) == (404, {
        "error": "not_found", "message": f"recurring task {TASK} does not exist", "details": {"id": str(TASK)},
    })


def test_a_version_conflict_is_a_412_with_both_versions():
    assert body(from_query_error(db.VersionConflict("task", TASK, expected=2, current=3))) == (412, {
        "error": "precondition_failed",
        "message": f"task {TASK} changed meanwhile (now at version 3); reload it and retry",
        "details": {"current_version": 3, "expected_version": 2},
    })


def test_a_conflict_is_a_409_with_its_details():
    assert body(from_query_error(db.Conflict("you already have that", field="name"))) == (409, {
        "error": "conflict", "message": "you already have that", "details": {"field": "name"},
    })


def test_an_invalid_value_is_a_400_naming_the_field():
    assert body(from_query_error(CursorError("is damaged; start again without it"))) == (400, {
        "error": "validation_error", "message": "cursor: is damaged; start again without it",
        "details": {"field": "cursor"},
    })


def every_subclass(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *every_subclass(direct))]


@pytest.mark.parametrize("kind", every_subclass(db.QueryError), ids=lambda kind: kind.__name__)
def test_every_kind_of_refusal_has_its_api_error(kind):
    samples = {
        db.NotFound: ("task", TASK), db.VersionConflict: ("task", TASK), db.Conflict: ("clash",),
        db.Invalid: ("field", "is wrong"), CursorError: ("is damaged",),
    }
    keywords = {"expected": 1, "current": 2} if issubclass(kind, db.VersionConflict) else {}
    assert isinstance(from_query_error(kind(*samples[kind], **keywords)), ApiError)


async def test_the_error_middleware_answers_a_refusal_raised_in_a_view():
    async def view(request: web.Request) -> web.Response:
        raise db.Conflict(f"task {TASK} is completed; reopen it before adding reminders", field="task_id")

    app = web.Application(middlewares=[errors_and_request_id])
    app.router.add_post("/api/things", view)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/api/things")
        assert response.status == 409
        assert response.headers["X-Request-ID"]
        assert await response.json() == {
            "error": "conflict", "message": f"task {TASK} is completed; reopen it before adding reminders",
            "details": {"field": "task_id"},
        }
