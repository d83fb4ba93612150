"""GET /docs: the API reference as HTML, rendered on the server from the OpenAPI document."""

from __future__ import annotations

from functools import lru_cache

from aiohttp import web

from streams.app import app

from ..apidocs import render_html
from ..openapi import document
from ..security import CONTENT_SECURITY_POLICY
from .base import ApiView


@lru_cache(maxsize=1)
def page() -> bytes:
    """The document only changes with the code, so each worker renders it once."""
    return render_html(document()).encode()


@app.page("/docs")
class ApiReference(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        return web.Response(body=page(), content_type="text/html", charset="utf-8", headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-cache",
        })
