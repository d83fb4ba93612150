"""API errors: every failure a client sees is JSON {"error", "message", "details"}, db/errors.py's refusals too."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from db.errors import Conflict, Invalid, NotFound, QueryError, VersionConflict


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class ApiError(Exception):
    """An error with its HTTP status, a stable machine code, a human message and details."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.details = details or {}
        self.headers = headers

    def response(self) -> web.Response:
        body = {"error": self.error, "message": self.message, "details": self.details}
        return json_response(body, status=self.status, headers=self.headers)


class ValidationError(ApiError):
    """Bad input in a named field, parameter or header: 400."""

    def __init__(self, field: str, message: str, **details: Any) -> None:
        super().__init__(400, "validation_error", f"{field}: {message}", {"field": field, **details})
        self.field = field


def not_found(what: str, ident: Any) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident} does not exist", {"id": str(ident)})


def precondition_failed(what: str, ident: Any, *, current: int, expected: int) -> ApiError:
    """412 for an If-Match that names a version the resource has moved past."""
    return ApiError(
        412, "precondition_failed",
        f"{what} {ident} changed meanwhile (now at version {current}); reload it and retry",
        {"current_version": current, "expected_version": expected},
    )


def unauthorized(message: str) -> ApiError:
    return ApiError(
        401, "unauthorized", message + "; send 'Authorization: Bearer <token>' (see `taskstream token`)",
        headers={"WWW-Authenticate": 'Bearer realm="taskstream"'},
    )


def from_query_error(exc: QueryError) -> ApiError:
    """The API error for a refusal of the database layer: 404, 412, 409 or 400 naming the field."""
    match exc:
        case NotFound():
            return not_found(exc.what, exc.ident)
        case VersionConflict():
            return precondition_failed(exc.what, exc.ident, current=exc.current, expected=exc.expected)
        case Conflict():
            return ApiError(409, "conflict", exc.message, exc.details)
        case Invalid():
            return ValidationError(exc.field, exc.message)
    raise TypeError(f"no API error for {type(exc).__name__}: {exc}")
