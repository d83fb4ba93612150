"""The error answers the middleware really gives (429, 503s) are the ones the OpenAPI document promises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from streams.settings import RateLimit, from_env
from web import ratelimit
from web.errors import ApiError
from web.middleware import RequestPass
from web.openapi import document as openapi_document
from web.security import Cors

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def operations(document):
    return [(m, p, op) for p, item in document["paths"].items() for m, op in item.items() if m in METHODS]


def error_body_conforms(document, body: dict[str, Any]) -> bool:
    schema = {"$ref": "#/components/schemas/Error", "components": document["components"]}
    return Draft202012Validator(schema).is_valid(body)


def test_every_rate_limited_route_documents_429_and_the_probes_do_not(document):
    for method, path, operation in operations(document):
        limited = path not in ratelimit.EXEMPT_PATHS
        assert ("429" in operation["responses"]) is limited, f"{method.upper()} {path}"


def test_every_api_route_documents_503_for_an_unreachable_database(document):
    for method, path, operation in operations(document):
        if path.startswith("/api/"):
            assert operation["responses"]["503"] == {"$ref": "#/components/responses/ServiceUnavailable"}, path


def test_a_rate_limit_rejection_is_the_documented_429(document):
    limit = RateLimit(rate=10, burst=100)
    refused = ratelimit.Decision("writes", limit, allowed=False, tokens=0.2)
    passed = ratelimit.Decision("address", RateLimit(rate=60, burst=400), allowed=True, tokens=12)
    error = ratelimit.rejection(refused, [refused, passed])
    response = error.response()
    assert response.status == 429
    assert error_body_conforms(document, json.loads(response.body))
    documented = document["components"]["responses"]["RateLimited"]["headers"]
    sent = ratelimit.headers([refused, passed])
    assert set(sent) <= set(documented), f"undocumented headers: {set(sent) - set(documented)}"
    assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"} <= set(sent)
    assert int(sent["Retry-After"]) >= 1


def test_a_database_outage_is_the_documented_503(document):
    error = ApiError(503, "database_unavailable", "the database is not reachable right now; retry shortly",
                     {"reason": "unreachable"}, headers={"Retry-After": "1"})
    assert error_body_conforms(document, json.loads(error.response().body))
    assert "Retry-After" in document["components"]["responses"]["ServiceUnavailable"]["headers"]
    assert "database_unavailable" in document["components"]["schemas"]["Error"]["properties"]["error"]["description"]


def test_an_overloaded_worker_answers_the_documented_503(document):
    response = RequestPass(from_env({"MAX_IN_FLIGHT": "8"}), None, Cors(())).overloaded().response()
    assert response.status == 503 and response.headers["Retry-After"] == "1"
    body = json.loads(response.body)
    assert error_body_conforms(document, body) and body["error"] == "overloaded"
    assert "overloaded" in document["components"]["schemas"]["Error"]["properties"]["error"]["description"]
