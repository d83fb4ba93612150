"""aiohttp middlewares: request ids, authentication and the mapping of every failure to JSON."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Awaitable, Callable

from aiohttp import web
from sqlalchemy import exc as sa_exc

from streams import metrics
from streams.logs import request_id_var, user_id_var

from .auth import bearer_token, verify_token
from .errors import ApiError

log = logging.getLogger("taskstream.web")
access_log = logging.getLogger("taskstream.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Typed request keys (aiohttp warns about plain string keys).
REQUEST_ID_KEY = web.RequestKey("request_id", str)
USER_ID_KEY = web.RequestKey("user_id", str)

# aiohttp's own HTTP errors (no route, wrong method, body too large) in our JSON shape.
_HTTP_ERRORS = {
    404: ("not_found", "no such route; see /openapi.json for the API"),
    405: ("method_not_allowed", "this route does not accept that method; see /openapi.json"),
    413: ("payload_too_large", "the request body is over the 1 MiB limit"),
}


def _database_down(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, OSError, asyncio.TimeoutError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))
    return isinstance(exc, sa_exc.TimeoutError)


def route_template(request: web.Request) -> str:
    """The route's template (/api/tasks/{task_id}), never the raw path: metric labels stay bounded."""
    info = request.match_info
    resource = info.route.resource if info is not None and info.route is not None else None
    if resource is None or info.http_exception is not None:
        return "unmatched"
    return resource.canonical


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request by route template, method and status."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        route, method = route_template(request), request.method
        elapsed = time.perf_counter() - started
        metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc()
        metrics.HTTP_LATENCY.labels(route, method).observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("%s %s %s", method, route, status, extra={
                "route": route, "method": method, "status": status, "duration_ms": round(elapsed * 1000, 2),
            })


@web.middleware
async def errors_and_request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id
    request_id_var.set(request_id)
    user_id_var.set(None)
    try:
        response = await handler(request)
    except ApiError as exc:
        response = exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error, message = _HTTP_ERRORS.get(exc.status, ("http_error", exc.reason))
        response = ApiError(exc.status, error, message, headers={
            k: v for k, v in exc.headers.items() if k.lower() == "allow"
        }).response()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if _database_down(exc):
            log.warning("database unavailable during %s %s: %s", request.method, request.path, type(exc).__name__)
            response = ApiError(
                503, "database_unavailable", "the database is not reachable right now; retry shortly",
                headers={"Retry-After": "1"},
            ).response()
        else:
            log.exception("unhandled error in %s %s", request.method, route_template(request))
            response = ApiError(
                500, "internal_error", f"an unexpected error occurred; quote request id {request_id} when reporting it"
            ).response()
    if not response.prepared:  # a WebSocket has sent its headers already
        response.headers["X-Request-ID"] = request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        request[USER_ID_KEY] = verify_token(bearer_token(request.headers.get("Authorization")))
        user_id_var.set(request[USER_ID_KEY])
    return await handler(request)


def middlewares() -> list:
    return [observe, errors_and_request_id, authenticate]
