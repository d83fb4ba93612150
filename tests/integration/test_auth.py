"""Every /api route needs a valid bearer token; anything else is a 401 JSON error."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

JWT_SECRET = "integration-tests-secret-0123456789abcdef"


pytestmark = pytest.mark.integration


def unsigned_token(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def bad_authorization(make_token) -> dict[str, str | None]:
    return {
        "missing header": None,
        "not bearer": "Basic dXNlcjpwYXNz",
        "empty bearer": "Bearer ",
        "garbage": "Bearer not.a.jwt",
        "wrong key": "Bearer " + make_token("alice", secret="another-secret-0123456789abcdefghij"),
        "expired": "Bearer " + make_token("alice", ttl=-120),
        "not yet valid": "Bearer " + make_token("alice", nbf=9_999_999_999),
        "missing sub": "Bearer " + make_token(None),
        "empty sub": "Bearer " + make_token(""),
        "alg none": "Bearer " + unsigned_token({"sub": "alice", "exp": 9_999_999_999}),
        "no exp": "Bearer " + jwt.encode({"sub": "alice"}, JWT_SECRET),
    }


CASES = ["missing header", "not bearer", "empty bearer", "garbage", "wrong key", "expired", "not yet valid",
         "missing sub", "empty sub", "alg none", "no exp"]


@pytest.mark.parametrize("case", CASES)
async def test_bad_credentials_answer_401_json_without_echoing_the_token(api, make_token, case):
    value = bad_authorization(make_token)[case]
    headers = {"Authorization": value} if value is not None else {}
    for method, path in (("GET", "/api/tasks"), ("POST", "/api/tasks"), ("GET", "/api/audit/tasks/x")):
        status, body, response_headers = await api.call(method, path, json_body={"title": "x"}, headers=headers,
                                                        auth=False)
        assert status == 401, (case, body)
        assert body["error"] == "unauthorized" and body["message"]
        assert response_headers["WWW-Authenticate"].startswith("Bearer")
        if value and len(value) > 20:
            assert value.split(" ", 1)[1] not in json.dumps(body)
    _, listing, _ = await api.call("GET", "/api/tasks")
    assert listing["total"] == 0, "a rejected request wrote nothing"


async def test_expired_and_not_yet_valid_tokens_say_why(api, make_token):
    cases = bad_authorization(make_token)
    status, body, _ = await api.call("GET", "/api/tasks", auth=False,
                                     headers={"Authorization": cases["expired"]})
    assert "expired" in body["message"]
    status, body, _ = await api.call("GET", "/api/tasks", auth=False,
                                     headers={"Authorization": cases["not yet valid"]})
    assert "not valid yet" in body["message"]
