"""GET /api/changes: the user's changes after a sequence number, for clients that poll instead of a WebSocket."""

from __future__ import annotations

from aiohttp import web

from db import events as queries
from streams.app import app

from ..validation import fields as v
from .base import ApiView

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@app.page("/api/changes")
class Changes(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        v.reject_unknown_params(request.query, ("since", "limit"))
        since = v.int_param(request.query, "since", 0, minimum=0)
        limit = v.int_param(request.query, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
        user_id = self.user_id(request)
        async with self.autocommit() as session:
            latest = await queries.latest_seq(session, user_id)
            if since > latest:
                # As the WebSocket does: a cursor this history never reached cannot be resumed.
                return self.respond({"changes": [], "seq": latest, "has_more": False, "reset": True})
            rows = await queries.events_since(session, user_id, since, limit + 1)
        page = rows[:limit]
        return self.respond({
            "changes": [queries.update_json(row) for row in page],
            "seq": page[-1].seq if page else since,
            "has_more": len(rows) > limit,
            "reset": False,
        })
