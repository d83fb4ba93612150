"""Prometheus scrape endpoint."""

from __future__ import annotations

from aiohttp import web

from streams import metrics
from streams.app import app

from .base import ApiView


@app.page("/metrics")
class Metrics(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})
