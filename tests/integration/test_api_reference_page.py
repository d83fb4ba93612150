"""GET /docs: the API reference page, served without authentication and under the strict page policy."""

from __future__ import annotations

import pytest

from web.openapi import document

pytestmark = pytest.mark.integration


async def test_the_reference_page_needs_no_token_and_names_every_operation(worker, http):
    async with http.get(f"{worker.url}/docs") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        page = await response.text()
    operation_ids = [op["operationId"] for item in document()["paths"].values() for m, op in item.items()
                     if m != "parameters"]
    missing = [name for name in operation_ids if f'id="op-{name}"' not in page]
    assert not missing, f"operations missing from /docs: {missing}"
    async with http.get(f"{worker.url}/static/css/api-docs.css") as response:
        assert response.status == 200 and response.content_type == "text/css"
