"""Response hardening: security headers on every answer, the pages' Content-Security-Policy, the CORS allow-list."""

from __future__ import annotations

from aiohttp import web

from streams.settings import normalize_origin

from .errors import ApiError

#: On every response, errors and 404s included.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

#: The dashboard: everything from this origin and nothing inline (a token in sessionStorage is only as
#: safe as the scripts that may run next to it). CSP Level 3 makes 'self' in connect-src cover ws: and
#: wss: to this same host and port, which is exactly the one WebSocket the dashboard opens (/ws); a
#: bare `ws: wss:` would let a script reach any host. (Browsers do this since Chrome 71, Firefox and
#: Safari 16; on older Safari the live updates stay off and the page works without them.) One fixed
#: string, so the OpenAPI document can state it exactly.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

#: Everything that is not a page (JSON, scripts, images): nothing may load or frame it as a document.
NON_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'"


def add_security_headers(response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    is_page = (response.content_type or "").startswith("text/html")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY if is_page else NON_PAGE_POLICY)


class Cors:
    """Cross-origin access for the exact origins in CORS_ORIGINS; any other origin gets no CORS headers."""

    METHODS = "GET, POST, PUT, PATCH, DELETE"
    REQUEST_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, X-Request-ID"
    EXPOSED_HEADERS = ", ".join((
        "ETag", "Location", "Retry-After", "X-Request-ID",
        "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy",
    ))
    #: Seconds a browser may reuse a preflight answer (Chromium caps it at 7200).
    MAX_AGE = "600"

    def __init__(self, origins: tuple[str, ...]) -> None:
        self.origins = frozenset(origins)

    def allowed_origin(self, request: web.Request) -> str | None:
        origin = request.headers.get("Origin")
        if not origin or not self.origins:
            return None
        normalized = normalize_origin(origin)
        return origin if normalized in self.origins else None

    @staticmethod
    def is_preflight(request: web.Request) -> bool:
        return (request.method == "OPTIONS" and "Origin" in request.headers
                and "Access-Control-Request-Method" in request.headers)

    def preflight(self, request: web.Request) -> web.Response:
        """204 with what may be sent, for an allowed origin; 403 (no CORS headers) for any other."""
        origin = self.allowed_origin(request)
        if origin is None:
            hint = ("add it to CORS_ORIGINS" if self.origins
                    else "this server allows no cross-origin requests (CORS_ORIGINS is empty)")
            raise ApiError(403, "cors_origin_not_allowed",
                           f"origin {request.headers['Origin'][:200]!r} may not call this API from a browser; {hint}",
                           {"origin": request.headers["Origin"][:200]})
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": self.METHODS,
            "Access-Control-Allow-Headers": self.REQUEST_HEADERS,
            "Access-Control-Max-Age": self.MAX_AGE,
        })

    def add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        if not self.origins:
            return
        # Answers differ by Origin whenever CORS is on: caches must keep them apart.
        vary = response.headers.get("Vary")
        if "origin" not in (vary or "").lower():
            response.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"
        origin = self.allowed_origin(request)
        if origin is not None and "Access-Control-Allow-Origin" not in response.headers:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = self.EXPOSED_HEADERS
