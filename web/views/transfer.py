"""Export and import: GET /api/export (JSON or CSV) and POST /api/import (this server's JSON, or Todoist CSV)."""

from __future__ import annotations

from aiohttp import web

from db import transfer as queries
from streams.app import app
from streams.config import MAX_BODY_BYTES

from ..errors import ApiError, ValidationError
from ..validation import fields as v
from ..validation.transfer import document_plan, todoist_plan
from .base import ApiView
from .saved_views import view_query

FORMATS = ("json", "csv")
JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv", "application/csv")
TOO_LARGE = (f"the import is over the server's {MAX_BODY_BYTES // (1024 * 1024)} MiB request limit; split the "
             "file, or have an operator run `taskstream import --user ID FILE`, which has no limit")


@app.page("/api/export")
class Export(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        v.reject_unknown_params(request.query, ("format",))
        fmt = (request.query.get("format") or "json").lower()
        if fmt not in FORMATS:
            raise ValidationError("format", f"must be json or csv, got {request.query['format'][:20]!r}")
        user_id, now = self.user_id(request), self.clock()
        name = f"taskstream-export-{now:%Y-%m-%d}.{fmt}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
        async with self.transaction() as session:
            if fmt == "csv":
                text = await queries.export_csv(session, user_id)
                return web.Response(text=text, content_type="text/csv", charset="utf-8", headers=headers)
            document = await queries.export_document(session, user_id, now=now)
        return self.respond(document, headers=headers)


@app.page("/api/import")
class Import(ApiView):
    async def post(self, request: web.Request) -> web.Response:
        kind = request.content_type.lower()
        if kind in JSON_TYPES:
            plan = document_plan(await self._body(request), view_query=view_query)
        elif kind in CSV_TYPES:
            plan = todoist_plan(await self._text(request), now=self.clock())
        else:
            raise ValidationError("Content-Type", f"must be application/json (this server's export) or text/csv "
                                                  f"(a Todoist CSV export), got {kind[:60]!r}")
        async with self.transaction() as session:
            outcome = await queries.apply_plan(session, self.user_id(request), plan, now=self.clock())
        self.published(outcome.events)
        return self.respond(outcome.report())

    async def _body(self, request: web.Request):
        try:
            return await self.body(request)
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "payload_too_large", TOO_LARGE) from None

    async def _text(self, request: web.Request) -> str:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "payload_too_large", TOO_LARGE) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("body", "is not UTF-8 text; export the CSV from Todoist again") from None
        if not text.strip():
            raise ValidationError("body", "is empty; send a Todoist CSV export")
        v.check_text(text)
        return text
