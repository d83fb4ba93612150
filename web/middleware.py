"""aiohttp middlewares: request ids, rate limits, CORS, authentication, security headers and the mapping of
every failure to JSON."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Awaitable, Callable

from aiohttp import web

from db.engine import Unavailable, describe_failure
from db.errors import QueryError
from streams import metrics
from streams.logs import request_id_var, user_id_var
from streams.settings import Settings, get_settings

from . import ratelimit
from .auth import bearer_token, jwks_keys, presented_tokens, verify_token
from .errors import ApiError, from_query_error
from .security import Cors, add_security_headers

log = logging.getLogger("taskstream.web")
access_log = logging.getLogger("taskstream.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Typed request keys (aiohttp warns about plain string keys).
REQUEST_ID_KEY = web.RequestKey("request_id", str)
USER_ID_KEY = web.RequestKey("user_id", str)
RATE_LIMITS_KEY = web.RequestKey("rate_limits", list)

# aiohttp's own HTTP errors (no route, wrong method, body too large) in our JSON shape.
_HTTP_ERRORS = {
    404: ("not_found", "no such route; see /openapi.json for the API"),
    405: ("method_not_allowed", "this route does not accept that method; see /openapi.json"),
    413: ("payload_too_large", "the request body is over the 1 MiB limit"),
}


def _database_failure(exc: BaseException) -> Unavailable | None:
    """The database unreachable or too slow (a 503 worth retrying), with the limit that was hit."""
    settings = get_settings()
    return describe_failure(exc, statement_timeout_ms=settings.database_statement_timeout_ms,
                            connect_timeout_ms=settings.database_connect_timeout_ms)


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
    except QueryError as exc:
        response = from_query_error(exc).response()
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
        failure = _database_failure(exc)
        if failure is not None:
            # The route's template, never the raw path: a path can carry a secret (the calendar feed's).
            log.warning("database unavailable during %s %s: %s (%s)", request.method, route_template(request),
                        failure.reason, type(exc).__name__)
            response = ApiError(
                503, "database_unavailable", failure.message, {"reason": failure.reason},
                headers={"Retry-After": "1"},
            ).response()
        else:
            log.exception("unhandled error in %s %s", request.method, route_template(request))
            response = ApiError(
                500, "internal_error", f"an unexpected error occurred; quote request id {request_id} when reporting it"
            ).response()
    if not response.prepared:  # a WebSocket has sent its headers already
        response.headers["X-Request-ID"] = request_id
    return response


def harden(cors: Cors) -> Middleware:
    """Outside the error mapping, so every answer gets them, errors and 404s included: security
    headers, CORS headers for an allowed origin, and the RateLimit headers of the buckets checked."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[RATE_LIMITS_KEY] = []
        response = await handler(request)
        if not response.prepared:  # a WebSocket has sent its headers already
            add_security_headers(response)
            cors.add_headers(request, response)
            for name, value in ratelimit.headers(request[RATE_LIMITS_KEY]).items():
                response.headers.setdefault(name, value)
        return response

    return middleware


def admit(limiter: ratelimit.RateLimiter | None, cors: Cors, settings: Settings) -> Middleware:
    """Before anything costly: the client address's bucket (every route but the probes), then CORS preflights."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if limiter is not None and request.path not in ratelimit.EXEMPT_PATHS:
            address = ratelimit.client_address(request.remote, request.headers.getall("X-Forwarded-For", ()),
                                               settings.trusted_proxies)
            await limiter.check_address(address, request[RATE_LIMITS_KEY])
        if Cors.is_preflight(request):
            return cors.preflight(request)
        return await handler(request)

    return middleware


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    keys = jwks_keys() if request.path.startswith("/api/") or request.path == "/ws" else None
    if keys is not None:
        for token in presented_tokens(request):
            await keys.refresh(token)  # so that verifying, here or in the WebSocket view, never fetches
    if request.path.startswith("/api/"):
        request[USER_ID_KEY] = verify_token(bearer_token(request.headers.get("Authorization")))
        user_id_var.set(request[USER_ID_KEY])
    return await handler(request)


def limit_users(limiter: ratelimit.RateLimiter) -> Middleware:
    """The signed-in user's bucket for writes or for reads (per user, whichever worker or address)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        user_id = request.get(USER_ID_KEY)
        if user_id is not None:
            await limiter.check_user(user_id, request.method, request[RATE_LIMITS_KEY])
        return await handler(request)

    return middleware


def middlewares(settings: Settings | None = None, *, clock: ratelimit.Clock | None = None,
                database: Callable[[], object] | None = None) -> list[Middleware]:
    """The chain, outermost first; `clock` replaces the rate limiter's (tests); `database` returns the
    database handle, for RATE_LIMIT_STORE=postgres (web/startup.py passes the app's)."""
    settings = settings or get_settings()
    cors = Cors(settings.cors_origins)
    limiter = None
    if settings.rate_limits is not None:
        store = ratelimit.make_store(settings.rate_limit_store, settings.rate_limits, database,
                                     clock=clock or time.monotonic)
        limiter = ratelimit.RateLimiter(settings.rate_limits, store)
    chain = [observe, harden(cors), errors_and_request_id, admit(limiter, cors, settings), authenticate]
    return chain + [limit_users(limiter)] if limiter is not None else chain
