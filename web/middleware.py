"""The one aiohttp middleware pass: request ids, metrics and the access log, the in-flight cap, rate limits,
CORS, authentication, security headers and the mapping of every failure to JSON."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Awaitable, Callable

from aiohttp import web
from prometheus_client import Counter, Histogram

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

#: Never shed: the probes (a shed readiness probe takes the pod out of the Service, a shed liveness probe
#: restarts it), the scrape that shows the overload, and the WebSocket route, whose handler lives as long
#: as its socket (sockets are bounded by the gateway, not by this count).
UNCAPPED_PATHS = ratelimit.EXEMPT_PATHS | {"/metrics", "/ws"}
#: Labelled metric children kept per (route, method, status); beyond this many (methods are the client's
#: to choose), labels are looked up on each request instead of growing the cache.
SERIES_CACHE_SIZE = 2048
#: Client addresses (bucket keys) kept per peer and X-Forwarded-For; emptied when full.
ADDRESS_CACHE_SIZE = 4096

# aiohttp's own HTTP errors (no route, wrong method, body too large) in our JSON shape.
_HTTP_ERRORS = {
    404: ("not_found", "no such route; see /openapi.json for the API"),
    405: ("method_not_allowed", "this route does not accept that method; see /openapi.json"),
    413: ("payload_too_large", "the request body is over the 1 MiB limit"),
}


def route_template(request: web.Request) -> str:
    """The route's template (/api/tasks/{task_id}), never the raw path: metric labels stay bounded."""
    info = request.match_info
    resource = info.route.resource if info is not None and info.route is not None else None
    if resource is None or info.http_exception is not None:
        return "unmatched"
    return resource.canonical


def _request_id(request: web.Request) -> str:
    """The client's X-Request-ID when it is plain enough to log and echo, else a new one; set for the logs."""
    incoming = request.headers.get("X-Request-ID")
    request_id = incoming if incoming and REQUEST_ID.match(incoming) else os.urandom(16).hex()
    request[REQUEST_ID_KEY] = request_id
    request_id_var.set(request_id)
    user_id_var.set(None)
    return request_id


def failure_response(request: web.Request, exc: Exception, request_id: str,
                     settings: Settings | None = None) -> web.Response | None:
    """The JSON answer for a failure, or None for one that is not an error (an aiohttp redirect): re-raise it."""
    if isinstance(exc, ApiError):
        return exc.response()
    if isinstance(exc, QueryError):
        return from_query_error(exc).response()
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return None
        error, message = _HTTP_ERRORS.get(exc.status, ("http_error", exc.reason))
        return ApiError(exc.status, error, message, headers={
            k: v for k, v in exc.headers.items() if k.lower() == "allow"
        }).response()
    failure = _database_failure(exc, settings or get_settings())
    if failure is not None:
        # The route's template, never the raw path: a path can carry a secret (the calendar feed's).
        log.warning("database unavailable during %s %s: %s (%s)", request.method, route_template(request),
                    failure.reason, type(exc).__name__)
        return ApiError(
            503, "database_unavailable", failure.message, {"reason": failure.reason},
            headers={"Retry-After": "1"},
        ).response()
    log.exception("unhandled error in %s %s", request.method, route_template(request), exc_info=exc)
    return ApiError(
        500, "internal_error", f"an unexpected error occurred; quote request id {request_id} when reporting it"
    ).response()


def _database_failure(exc: BaseException, settings: Settings) -> Unavailable | None:
    """The database unreachable or too slow (a 503 worth retrying), with the limit that was hit."""
    return describe_failure(exc, statement_timeout_ms=settings.database_statement_timeout_ms,
                            connect_timeout_ms=settings.database_connect_timeout_ms)


@web.middleware
async def errors_and_request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only the request id and the error mapping of the full pass (for small apps that need no more)."""
    request_id = _request_id(request)
    try:
        response = await handler(request)
    except Exception as exc:
        response = failure_response(request, exc, request_id)
        if response is None:
            raise
    if not response.prepared:  # a WebSocket has sent its headers already
        response.headers["X-Request-ID"] = request_id
    return response


class RequestPass:
    """The middleware: one pass per request, in this order:

    request id (accepted or made up, echoed) -> the in-flight cap (503 past MAX_IN_FLIGHT, at once) -> the
    client address's bucket (every route but the probes) -> CORS preflight -> authentication for /api (key
    set refreshed first, for /ws too) -> the user's bucket -> the handler; any failure becomes its JSON
    answer; then every answer not yet sent (errors and 404s included, a WebSocket's not) gets the request
    id, security headers, CORS headers and the RateLimit headers of the buckets checked; last, the request
    is counted, timed and access-logged by route template, method and status.

    Built once per application (no closures or copies per request); a shed request costs no token of its
    client's buckets."""

    __middleware_version__ = 1  # what @web.middleware marks: a new-style middleware

    def __init__(self, settings: Settings, limiter: ratelimit.RateLimiter | None, cors: Cors) -> None:
        self.settings = settings
        self.limiter = limiter
        self.cors = cors
        self.trusted_proxies = settings.trusted_proxies
        self.max_in_flight = settings.max_in_flight
        #: Requests of this worker inside a handler now, counted against max_in_flight.
        self.in_flight = 0
        # (resource, method, status) -> (requests counter, latency histogram, route template).
        self._series: dict[tuple[object, str, int], tuple[Counter, Histogram, str]] = {}
        # (peer, X-Forwarded-For values) -> bucket key; parsing addresses costs more than the rest of a check.
        self._addresses: dict[object, str] = {}

    def overloaded(self) -> ApiError:
        metrics.HTTP_SHED.inc()
        return ApiError(
            503, "overloaded",
            f"this worker is already serving its limit of {self.max_in_flight} requests at once "
            "(MAX_IN_FLIGHT); retry in a second",
            {"max_in_flight": self.max_in_flight}, headers={"Retry-After": "1"},
        )

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = _request_id(request)
        path = request.path
        headers = request.headers
        decisions: list[ratelimit.Decision] = []
        status = 500
        counted = False
        try:
            try:
                if self.max_in_flight and path not in UNCAPPED_PATHS:
                    if self.in_flight >= self.max_in_flight:
                        raise self.overloaded()
                    self.in_flight += 1
                    counted = True
                limiter = self.limiter
                if limiter is not None and path not in ratelimit.EXEMPT_PATHS:
                    await limiter.check_address(self._client_address(request), decisions)
                if request.method == "OPTIONS" and Cors.is_preflight(request):
                    response = self.cors.preflight(request)
                else:
                    api = path.startswith("/api/")
                    if api or path == "/ws":
                        keys = jwks_keys()
                        if keys is not None:
                            for token in presented_tokens(request):
                                await keys.refresh(token)  # verifying (here or in the socket view) never fetches
                    if api:
                        user_id = verify_token(bearer_token(headers.get("Authorization")))
                        request[USER_ID_KEY] = user_id
                        user_id_var.set(user_id)
                        if limiter is not None:
                            await limiter.check_user(user_id, request.method, decisions)
                    response = await handler(request)
            except Exception as exc:
                response = failure_response(request, exc, request_id, self.settings)
                if response is None:
                    if isinstance(exc, web.HTTPException):
                        status = exc.status
                    raise
            finally:
                if counted:
                    self.in_flight -= 1
            status = response.status
            if not response.prepared:  # a WebSocket has sent its headers already
                response.headers["X-Request-ID"] = request_id
                add_security_headers(response)
                self.cors.add_headers(request, response)
                if decisions:
                    answer = response.headers
                    for name, value in ratelimit.headers(decisions).items():
                        answer.setdefault(name, value)
            return response
        finally:
            self._observe(request, status, time.perf_counter() - started)

    def _client_address(self, request: web.Request) -> str:
        """The bucket key of the request's client (ratelimit.client_address), from the cache when seen before."""
        peer = request.remote
        # Without trusted proxies X-Forwarded-For is never believed: the peer alone decides.
        forwarded = tuple(request.headers.getall("X-Forwarded-For", ())) if self.trusted_proxies else ()
        key = (peer, forwarded) if forwarded else peer
        address = self._addresses.get(key)
        if address is None:
            address = ratelimit.client_address(peer, forwarded, self.trusted_proxies)
            if len(self._addresses) >= ADDRESS_CACHE_SIZE:
                self._addresses.clear()
            self._addresses[key] = address
        return address

    def _observe(self, request: web.Request, status: int, elapsed: float) -> None:
        """Count and time the request by route template, method and status; the access log line."""
        info = request.match_info
        route = info.route if info is not None else None
        resource = route.resource if route is not None and info.http_exception is None else None
        method = request.method
        key = (resource, method, status)
        series = self._series.get(key)
        if series is None:
            series = self._series_for(key)
        series[0].inc()
        series[1].observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("%s %s %s", method, series[2], status, extra={
                "route": series[2], "method": method, "status": status, "duration_ms": round(elapsed * 1000, 2),
            })

    def _series_for(self, key: tuple[object, str, int]) -> tuple[Counter, Histogram, str]:
        resource, method, status = key
        route = resource.canonical if resource is not None else "unmatched"  # type: ignore[attr-defined]
        series = (metrics.HTTP_REQUESTS.labels(route, method, str(status)),
                  metrics.HTTP_LATENCY.labels(route, method), route)
        if len(self._series) < SERIES_CACHE_SIZE:
            self._series[key] = series
        return series


def middlewares(settings: Settings | None = None, *, clock: ratelimit.Clock | None = None,
                database: Callable[[], object] | None = None) -> list[Middleware]:
    """The middleware, as the one-element list aiohttp takes; `clock` replaces the rate limiter's (tests);
    `database` returns the database handle, for RATE_LIMIT_STORE=postgres (web/startup.py passes the app's)."""
    settings = settings or get_settings()
    limiter = None
    if settings.rate_limits is not None:
        store = ratelimit.make_store(settings.rate_limit_store, settings.rate_limits, database,
                                     clock=clock or time.monotonic)
        limiter = ratelimit.RateLimiter(settings.rate_limits, store)
    return [RequestPass(settings, limiter, Cors(settings.cors_origins))]
