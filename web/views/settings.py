"""User settings: the IANA time zone that "today", reminder texts and all-day tasks are reckoned in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from db import user_settings as queries
from streams.app import app
from streams.rules.all_day import ZONE_EXAMPLE, ZoneError, parse_zone

from ..errors import ValidationError
from ..validation import fields as v
from .base import ApiView

SETTINGS_FIELDS = ("time_zone",)
#: List parameters whose meaning depends on a zone: only these make a listing read the user's setting.
ZONED_PARAMS = ("filter", "due_before", "due_after", "created_after", "created_before")


def time_zone_name(body: Mapping[str, object]) -> str:
    value = body["time_zone"]
    try:
        zone = parse_zone(value)
    except ZoneError as exc:
        raise ValidationError("time_zone", str(exc), example=ZONE_EXAMPLE) from None
    return str(zone.key)


def needs_zone(query: Mapping[str, str]) -> bool:
    """Whether a list query names no `tz` but reads something in one: then it takes the user's zone."""
    return not query.get("tz") and any(query.get(name) for name in ZONED_PARAMS)


async def resolve_due(view: ApiView, request: web.Request, fields: dict[str, Any]) -> dict[str, Any]:
    """Validated task fields with due_date as stored: a date alone becomes an all-day task in the user's zone
    (read only then)."""
    if not queries.is_all_day(fields):
        return queries.stored_due(fields, None)
    async with view.connection() as conn:
        tz = await queries.time_zone(conn, view.user_id(request))
    return queries.stored_due(fields, tz)


@app.page("/api/settings")
class SettingsView(ApiView):
    async def get(self, request: web.Request) -> web.Response:
        v.reject_unknown_params(request.query, ())
        async with self.autocommit() as session:
            settings = await queries.get_settings(session, self.user_id(request))
        return self.respond(settings)

    async def put(self, request: web.Request) -> web.Response:
        body = v.require_object(await self.body(request))
        v.reject_unknown(body, SETTINGS_FIELDS)
        if "time_zone" not in body:
            raise ValidationError("time_zone", f"is required: an IANA time zone name such as {ZONE_EXAMPLE} or UTC",
                                  example=ZONE_EXAMPLE)
        name = time_zone_name(body)
        async with self.transaction() as session:
            settings, events = await queries.put_settings(session, self.user_id(request), time_zone_name=name,
                                                          now=self.clock())
        self.published(events)
        return self.respond(settings)
