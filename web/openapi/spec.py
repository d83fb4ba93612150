"""GET /openapi.json: the route serving this document, as the document describes it."""

from __future__ import annotations

from .schema import Resource, Route, Schema, ref, response

SCHEMAS: dict[str, Schema] = {
    "OpenApiDocument": {"type": "object", "description": "This document."},
}

ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/openapi.json", "getOpenApiDocument", "This document",
        {200: response("The OpenAPI 3.1 description of the API.", ref("OpenApiDocument"))},
        tag="operations",
    ),
)

RESOURCE = Resource(routes=ROUTES, schemas=SCHEMAS)
