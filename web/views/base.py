"""The base of every API view: the caller's identity, JSON bodies, the clock and the write path."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from aiohttp import web
from faust.web import View

from db.events import PendingEvent

from ..errors import ApiError, ValidationError, json_response, not_found
from ..middleware import USER_ID_KEY
from ..validation import fields as v
from ..validation.fields import parse_uuid


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ApiView(View):
    """Views stay thin: parse and validate, call a query function in one transaction, answer."""

    #: Injectable clock (tests and benchmarks may replace it on the class).
    clock = staticmethod(utc_now)

    def user_id(self, request: web.Request) -> str:
        return request[USER_ID_KEY]

    async def dispatch(self, request: web.Request) -> Any:
        if request.path.startswith("/api/"):  # /api query values reach the database (search, filter)
            v.check_query(request.query)
        return await super().dispatch(request)

    async def body(self, request: web.Request) -> Any:
        raw = await request.read()  # aiohttp raises 413 past client_max_size
        if not raw.strip():
            raise ValidationError("body", "is empty; send a JSON object")
        try:
            value = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            message = getattr(exc, "msg", "not UTF-8 text")
            raise ValidationError("body", f"is not valid JSON ({message})") from None
        except RecursionError:
            raise ValidationError("body", "is nested too deeply") from None
        except ValueError as exc:  # e.g. an integer past Python's 4300-digit conversion limit
            raise ValidationError("body", f"is not valid JSON ({exc})") from None
        v.check_text(value)
        return value

    def task_uuid(self, raw: str, what: str = "task") -> uuid.UUID:
        value = parse_uuid(raw)
        if value is None:
            raise not_found(what, raw)
        return value

    def transaction(self):
        return self.app.database.transaction()

    def autocommit(self):
        """For reads and single-statement writes: no BEGIN/COMMIT round trips."""
        return self.app.database.autocommit()

    def published(self, events: Iterable[PendingEvent | None]) -> None:
        """Hand committed events to the relay; the response never waits on the broker."""
        self.app.outbox.enqueue(events)

    def respond(self, data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return json_response(data, status=status, headers=headers)

    def no_content(self) -> web.Response:
        return web.Response(status=204)

    async def on_request_error(self, request: web.Request, exc: Any) -> web.Response:
        """Faust's own web errors (e.g. HEAD on a route without GET) in our JSON shape."""
        code = getattr(exc, "code", 500)
        error = "method_not_allowed" if code == 405 else "http_error"
        return ApiError(code, error, str(getattr(exc, "detail", exc)) + "; see /openapi.json").response()
