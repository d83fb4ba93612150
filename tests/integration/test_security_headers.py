"""Every answer of a real worker carries the security headers: pages, API, errors, metrics and probes."""

from __future__ import annotations

import pytest

from web.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.integration

NON_PAGE = "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize(("path", "authorized", "status", "policy"), [
    ("/", False, 200, CONTENT_SECURITY_POLICY),
    ("/static/js/main.js", False, 200, NON_PAGE),
    ("/api/tasks", True, 200, NON_PAGE),
    ("/api/tasks", False, 401, NON_PAGE),
    ("/api/nothing-here", True, 404, NON_PAGE),
    ("/nothing-here", False, 404, NON_PAGE),
    ("/ws", False, 401, NON_PAGE),
    ("/metrics", False, 200, NON_PAGE),
    ("/health", False, 200, NON_PAGE),
    ("/openapi.json", False, 200, NON_PAGE),
])
async def test_every_answer_carries_the_security_headers(api, path, authorized, status, policy):
    got, _, headers = await api.call("GET", path, auth=authorized)
    assert got == status
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Content-Security-Policy"] == policy
    assert "Access-Control-Allow-Origin" not in headers, "no CORS without CORS_ORIGINS"
