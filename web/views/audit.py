"""The audit trail of one task: every change, oldest first, readable after the task is deleted."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from db import events as queries
from streams.app import app

from ..errors import ValidationError, not_found
from ..validation import fields as v
from .base import ApiView


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "seq":
            raise ValueError
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("cursor", "is not a cursor this API returned; pass next_cursor unchanged") from None


@app.page("/api/audit/tasks/{task_id}")
class TaskAudit(ApiView):
    async def get(self, request: web.Request, task_id: str) -> web.Response:
        ident = self.task_uuid(task_id)
        query = request.query
        v.reject_unknown_params(query, ("limit", "cursor"))
        limit = v.int_param(query, "limit", 50, minimum=1, maximum=200)
        after = decode_cursor(query["cursor"]) if query.get("cursor") else None
        async with self.transaction() as session:
            rows = await queries.task_history(session, self.user_id(request), ident, after_seq=after, limit=limit + 1)
        if not rows and after is None:
            raise not_found("task", ident)
        page = rows[:limit]
        return self.respond(
            {
                "task_id": str(ident),
                "events": [queries.event_json(row) for row in page],
                "next_cursor": encode_cursor(page[-1].seq) if len(rows) > limit else None,
            }
        )
