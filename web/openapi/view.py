"""GET /openapi.json: the view serving the document."""

from __future__ import annotations

from aiohttp import web

from streams.app import app

from ..views.base import ApiView
from .registry import document


@app.page("/openapi.json")
class OpenApiView(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        return self.respond(document())
