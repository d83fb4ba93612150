"""The probes: liveness and readiness."""

from __future__ import annotations

from .schema import Resource, Route, Schema, closed_object, ref, response

SCHEMAS: dict[str, Schema] = {
    "Health": closed_object({"status": {"const": "ok"}}, required=("status",)),
    "Readiness": closed_object(
        {
            "status": {"type": "string", "enum": ["ready", "not_ready"]},
            "checks": {
                "type": "object",
                "properties": {"kafka": {"type": "string"}, "database": {"type": "string"}},
                "additionalProperties": {"type": "string"},
                "description": "Each dependency: `ok`, or why it is not.",
            },
        },
        required=("status", "checks"),
    ),
}

ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/health", "getHealth", "Liveness",
        {200: response("The process is up.", ref("Health"))},
        tag="operations",
    ),
    Route(
        "get", "/ready", "getReadiness", "Readiness",
        {
            200: response("The worker has joined its consumer group and PostgreSQL answers.", ref("Readiness")),
            503: response("Not ready yet; `checks` says what is missing.", ref("Readiness")),
        },
        tag="operations",
    ),
)

TAGS: tuple[Schema, ...] = (
    {"name": "operations", "description": "Probes and this document; no authentication."},
)

RESOURCE = Resource(routes=ROUTES, tags=TAGS, schemas=SCHEMAS)
