"""Liveness and readiness for probes and load balancers."""

from __future__ import annotations

import asyncio

from aiohttp import web

from streams.app import app

from .base import ApiView

DB_PING_TIMEOUT = 2.0


@app.page("/health")
class Health(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        return self.respond({"status": "ok"})


@app.page("/ready")
class Ready(ApiView):
    """200 once the parts of this worker's role run and PostgreSQL answers; 503 otherwise. `kafka` is the
    consumer group joined (agents and tables) and the relay and gateway started, as far as the role
    has them (streams/roles.py)."""

    async def get(self, request: web.Request) -> web.Response:
        checks: dict[str, str] = {}
        checks["kafka"] = self.app.kafka_status()
        try:
            await asyncio.wait_for(self.app.database.ping(), DB_PING_TIMEOUT)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable ({type(exc).__name__})"
        ready = all(value == "ok" for value in checks.values())
        return self.respond({"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503)
