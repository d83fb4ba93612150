"""Every /api route needs a valid bearer token; anything else is a 401 JSON error."""

from __future__ import annotations

import base64
import json
import warnings

import jwt
import pytest

JWT_SECRET = "integration-tests-secret-0123456789abcdef"


pytestmark = pytest.mark.integration


def unsigned_token(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def hs512_token(make_token) -> str:
    """Signed with the right secret, but HS512 (PyJWT warns that secret is short for SHA-512: beside the point)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return make_token("alice", algorithm="HS512")


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
        "issued in the future": "Bearer " + make_token("alice", iat=9_999_999_999, ttl=3600),
        "HS512 instead of HS256": "Bearer " + hs512_token(make_token),
        "not base64": "Bearer eyJ!!!.eyJ!!!.sig",
    }


CASES = ["missing header", "not bearer", "empty bearer", "garbage", "wrong key", "expired", "not yet valid",
         "missing sub", "empty sub", "alg none", "no exp", "issued in the future", "HS512 instead of HS256",
         "not base64"]


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


async def test_tokens_issued_in_the_future_or_with_another_algorithm_say_why(api, make_token):
    cases = bad_authorization(make_token)
    _, body, _ = await api.call("GET", "/api/tasks", auth=False,
                                headers={"Authorization": cases["issued in the future"]})
    assert "not valid yet" in body["message"]
    _, body, _ = await api.call("GET", "/api/tasks", auth=False,
                                headers={"Authorization": cases["HS512 instead of HS256"]})
    assert "'HS512'" in body["message"] and "HS256" in body["message"]
