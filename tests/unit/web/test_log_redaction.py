"""Secrets in URLs (the calendar feed's) never reach the log, whatever goes wrong while serving them."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from web.middleware import errors_and_request_id

SECRET = "Zr4l1mH1w0q5n0tF0rY0urL0gs_b5Xk2pQ9sVv8cT1yA3e"


def _logged(caplog) -> str:
    """What the app logged; the test server's own access log is left out (the worker runs aiohttp
    without one: Faust builds its AppRunner with access_log=None)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")


async def _serve(view, caplog) -> web.Response:
    app = web.Application(middlewares=[errors_and_request_id])
    app.router.add_get("/calendar/{secret}.ics", view)
    with caplog.at_level(logging.DEBUG):
        async with TestClient(TestServer(app)) as client:
            response = await client.get(f"/calendar/{SECRET}.ics")
            await response.read()
            return response


async def test_the_feed_secret_is_not_logged_when_the_database_is_unavailable(caplog):
    async def view(request: web.Request) -> web.Response:
        raise ConnectionRefusedError("connection refused")

    response = await _serve(view, caplog)
    assert response.status == 503
    assert "database unavailable" in _logged(caplog)  # the failure is still logged, with the route
    assert "/calendar/{secret}.ics" in _logged(caplog)
    assert SECRET not in _logged(caplog)


async def test_the_feed_secret_is_not_logged_when_the_view_fails(caplog):
    async def view(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    response = await _serve(view, caplog)
    assert response.status == 500
    assert "unhandled error" in _logged(caplog)
    assert SECRET not in _logged(caplog)
