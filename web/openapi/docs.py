"""GET /docs: this document as a readable reference page."""

from __future__ import annotations

from .dashboard import CSP_HEADER
from .schema import Resource, Route, ref

ROUTES: tuple[Route, ...] = (
    Route("get", "/docs", "getApiReference", "This document as a readable reference (HTML)",
          {200: {
              "description": "Every operation with its parameters, request body fields, responses and error codes, "
              "rendered on the server from this document (no scripts; `taskstream api-docs` prints the same as "
              "Markdown).",
              "content": {"text/html": {"schema": {"type": "string"}}},
              "headers": {"X-Request-ID": ref("RequestId", "headers"), "Content-Security-Policy": CSP_HEADER},
          }},
          tag="operations"),
)

RESOURCE = Resource(routes=ROUTES)
