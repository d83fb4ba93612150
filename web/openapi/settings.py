"""User settings: the time zone that "today", reminder texts and all-day tasks are reckoned in."""

from __future__ import annotations

from .schema import NULLABLE_TIMESTAMP, Resource, Route, Schema, closed_object, described, ref, response

ZONE = described(
    {"type": "string", "minLength": 1, "maxLength": 64, "examples": ["Europe/Berlin", "America/New_York", "UTC"]},
    "An IANA time zone name. Filters (`today`, `overdue`, `due<7d`, date-only bounds) use it when a listing "
    "names no `tz`; reminder texts show times in it; an all-day task is due until its day ends there.",
)

SCHEMAS: dict[str, Schema] = {
    "Settings": closed_object({
        "time_zone": ZONE,
        "updated_at": described(NULLABLE_TIMESTAMP, "When the settings last changed; null while never set."),
    }, required=("time_zone", "updated_at")),
    "SettingsUpdate": closed_object({"time_zone": ZONE}, required=("time_zone",)),
}

ROUTES: tuple[Route, ...] = (
    Route("get", "/api/settings", "getSettings", "Read your settings",
          {200: response("Your settings; time_zone is UTC until you set one.", ref("Settings"))},
          tag="settings", errors=(400,)),
    Route("put", "/api/settings", "putSettings", "Set your time zone",
          {200: response("Your settings.", ref("Settings"))}, tag="settings", body="SettingsUpdate",
          description="A name that is not an IANA zone answers 400 naming `time_zone`. Changing the zone keeps "
          "every all-day task on its calendar day: it is now due until that day ends in the new zone, and its "
          "relative reminders move with it."),
)

TAGS: tuple[Schema, ...] = (
    {"name": "settings", "description": "Your preferences: the time zone dates are read and shown in."},
)

RESOURCE = Resource(routes=ROUTES, schemas=SCHEMAS, tags=TAGS)
