"""What the routes share: common parameters and response headers, the Error schema and the error responses."""

from __future__ import annotations

from .schema import Resource, Schema, closed_object, not_found_rule, query_int, ref, response

NOT_FOUND_RULE = not_found_rule("A task or saved view")

PARAMETERS: dict[str, Schema] = {
    "IfMatch": {
        "name": "If-Match", "in": "header", "required": False,
        "schema": {"type": "string", "pattern": r'^(?:W/)?"?0*[1-9][0-9]*"?$'},
        "description": 'The ETag (version) the change is based on, e.g. `"3"`; `W/"3"` and a bare `3` work too. '
        "When the task is at another version nothing changes and the answer is 412. Without it, the last write wins.",
    },
    "RequestId": {
        "name": "X-Request-ID", "in": "header", "required": False,
        "schema": {"type": "string"},
        "description": "Echoed back in the response and written to the logs. A value that is not 1-128 of "
        "`A-Z a-z 0-9 . _ : -` is replaced by a generated id rather than rejected.",
    },
    "PageLimit": query_int("limit", default=50, minimum=1, maximum=200, description="At most this many."),
}

HEADERS: dict[str, Schema] = {
    "RequestId": {
        "description": "The request's id: the X-Request-ID sent, or a generated one. "
        "Quote it when reporting a problem.",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "The URL of what was created: /api/tasks/{task_id} or /api/views/{view_id}.",
        "schema": {"type": "string"},
    },
    "RetryAfter": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}},
    "RateLimitLimit": {
        "description": "The size (burst) of the bucket closest to empty.", "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimitRemaining": {
        "description": "Requests left in that bucket.", "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimitReset": {
        "description": "Seconds until that bucket is full again.", "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimitPolicy": {
        "description": 'Every bucket that applied, e.g. `100;w=10;name="writes", 400;w=7;name="address"`.',
        "schema": {"type": "string"},
    },
    "WWWAuthenticate": {"description": 'Always `Bearer realm="taskstream"`.', "schema": {"type": "string"}},
}

SCHEMAS: dict[str, Schema] = {
    "Error": closed_object(
        {
            "error": {
                "type": "string",
                "description": "A stable machine code: validation_error, unauthorized, not_found, conflict, "
                "precondition_failed, payload_too_large, method_not_allowed, rate_limited, "
                "database_unavailable, overloaded, internal_error.",
                "examples": ["validation_error"],
            },
            "message": {"type": "string", "description": "What went wrong and how to fix it, for people."},
            "details": {
                "type": "object",
                "description": "Context: `field` for validation errors and conflicts (plus `position`, the "
                "0-based index of the offending character, for a `filter` syntax error), `id` for not_found, "
                "`current_version` and `expected_version` for precondition_failed, `limit` and `retry_after` "
                "for rate_limited, `reason` for database_unavailable, `max_in_flight` for overloaded.",
            },
        },
        required=("error", "message", "details"),
        description="Every failure has this shape.",
    ),
}

#: Status -> (component name, description, extra headers) of the error responses routes share.
ERRORS: dict[int, tuple[str, str, dict[str, str]]] = {
    400: ("BadRequest", "`validation_error`: a body, parameter or header is invalid; `details.field` names it.", {}),
    401: (
        "Unauthorized",
        "`unauthorized`: no bearer token, or one that is expired, not yet valid, badly signed or without `sub`.",
        {"WWW-Authenticate": "WWWAuthenticate"},
    ),
    404: ("NotFound", "`not_found`. " + NOT_FOUND_RULE, {}),
    409: ("Conflict", "`conflict`: it clashes with something you already have; `details.field` names the field.", {}),
    412: (
        "PreconditionFailed",
        "`precondition_failed`: If-Match names another version; `details.current_version` is the task's version now.",
        {},
    ),
    413: ("PayloadTooLarge", "`payload_too_large`: the body is over 1 MiB.", {}),
    429: (
        "RateLimited",
        "`rate_limited`: too many requests (`details.limit` names the bucket); nothing was done. Retry after "
        "Retry-After seconds; the RateLimit-* headers describe the buckets.",
        {"Retry-After": "RetryAfter", "RateLimit-Limit": "RateLimitLimit", "RateLimit-Remaining": "RateLimitRemaining",
         "RateLimit-Reset": "RateLimitReset", "RateLimit-Policy": "RateLimitPolicy"},
    ),
    503: (
        "ServiceUnavailable",
        "`database_unavailable`: PostgreSQL is not reachable or too slow (`details.reason` says which); retry "
        "after Retry-After seconds. `overloaded`: this worker is serving MAX_IN_FLIGHT requests already; nothing "
        "was done, retry after Retry-After seconds. The broker being down is not an error: writes are accepted and "
        "published once it is back.",
        {"Retry-After": "RetryAfter"},
    ),
}


def error_responses() -> dict[str, Schema]:
    return {name: response(text, ref("Error"), **headers) for name, text, headers in ERRORS.values()}


RESOURCE = Resource(schemas=SCHEMAS, parameters=PARAMETERS, headers=HEADERS)
