"""The base of every API view: the caller's identity, JSON bodies, the clock, the write path and its reruns."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from aiohttp import web
from faust.web import View

from db.engine import retry_kind
from db.events import PendingEvent

from ..errors import ApiError, ValidationError, json_response, not_found
from ..middleware import USER_ID_KEY, route_template
from ..validation import fields as v
from ..validation.fields import parse_uuid

log = logging.getLogger(__name__)

#: Runs of a request whose transaction lost a deadlock or a serialization conflict (40P01, 40001):
#: PostgreSQL rolled it back, and running it again usually succeeds once the winner committed.
CONFLICT_ATTEMPTS = 4
#: Upper bound of the random pause before a rerun, times the attempt, so the losers do not collide again.
CONFLICT_BACKOFF = 0.05


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
        # One place for every view: a handler runs one transaction and publishes only after its
        # commit, so a rolled-back run left nothing behind and the whole handler can run again.
        attempt = 1
        while True:
            try:
                return await super().dispatch(request)
            except Exception as exc:
                if attempt >= CONFLICT_ATTEMPTS or retry_kind(exc) != "conflict" or _upgraded(request):
                    raise
                state = getattr(getattr(exc, "orig", None), "sqlstate", None)
                log.info("%s %s lost a transaction conflict (%s), attempt %d of %d; running it again",
                         request.method, route_template(request), state, attempt, CONFLICT_ATTEMPTS)
            await asyncio.sleep(random.uniform(0, CONFLICT_BACKOFF * attempt))
            attempt += 1

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

    def connection(self):
        """The lean path: a raw asyncpg connection (db.tasks), autocommit unless a transaction is opened."""
        return self.app.database.connection()

    def published(self, events: Iterable[PendingEvent | None]) -> None:
        """Hand committed events to the relay; the response never waits on the broker."""
        self.app.outbox.enqueue(events)

    def respond(self, data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return json_response(data, status=status, headers=headers)

    def respond_json(self, request: web.Request, body: bytes, *, etag: str | None = None) -> web.Response:
        """JSON the database wrote, passed through; with its ETag (a digest of the body unless given), and
        304 Not Modified when the client's If-None-Match already names it."""
        etag = etag or f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
        if not_modified(request.headers.get("If-None-Match"), etag):
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/json", headers={"ETag": etag})

    def no_content(self) -> web.Response:
        return web.Response(status=204)

    async def on_request_error(self, request: web.Request, exc: Any) -> web.Response:
        """Faust's own web errors (e.g. HEAD on a route without GET) in our JSON shape."""
        code = getattr(exc, "code", 500)
        error = "method_not_allowed" if code == 405 else "http_error"
        return ApiError(code, error, str(getattr(exc, "detail", exc)) + "; see /openapi.json").response()


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak comparison, as RFC 9110 asks for GET) or is `*`."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tag = etag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == tag for part in if_none_match.split(","))


def _upgraded(request: web.Request) -> bool:
    """A WebSocket: its answer has begun, so it cannot be run again."""
    return request.headers.get("Upgrade", "").lower() == "websocket"
