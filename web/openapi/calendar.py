"""The iCalendar feed: for the signed-in user, or at a secret URL for calendar apps that cannot send a header."""

from __future__ import annotations

from .schema import TIMESTAMP, Resource, Route, Schema, closed_object, described, ref, response

PARAMETERS: dict[str, Schema] = {
    "CalendarSecret": {
        "name": "token", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The secret from POST /api/calendar/token. A malformed, rotated or revoked one answers 404.",
    },
}

SCHEMAS: dict[str, Schema] = {
    "CalendarFeedUrl": closed_object({
        "url": described({"type": "string"}, "The feed's address; the secret in it is shown only here."),
        "path": {"type": "string", "pattern": r"^/calendar/[A-Za-z0-9_-]+\.ics$"},
        "created_at": TIMESTAMP,
    }, required=("url", "path", "created_at")),
}


def _calendar_response(description: str) -> Schema:
    return {
        "description": description,
        "content": {"text/calendar": {"schema": {"type": "string"}}},
        "headers": {"X-Request-ID": ref("RequestId", "headers")},
    }


ROUTES: tuple[Route, ...] = (
    Route("get", "/api/calendar.ics", "getCalendarFeed", "Your calendar feed (iCalendar)",
          {200: _calendar_response("VTODOs for your open tasks with a due date (the soonest 5,000) and for your "
                                   "active recurring tasks (DTSTART and RRULE, with VTIMEZONEs).")},
          tag="calendar", errors=(400,), description="Takes no query parameters; any is rejected (400)."),
    Route("post", "/api/calendar/token", "createCalendarFeedUrl", "Create or rotate your secret feed URL",
          {201: response("The feed URL, for calendar apps that cannot send a header.", ref("CalendarFeedUrl"))},
          tag="calendar", description="A new secret each time; the previous URL stops working. Only the "
          "secret's hash is stored, so it is shown only in this answer."),
    Route("delete", "/api/calendar/token", "revokeCalendarFeedUrl", "Revoke your secret feed URL",
          {204: response("Revoked; no body.")}, tag="calendar", errors=(404,),
          description="404 when you have none."),
    Route("get", "/calendar/{token}.ics", "getSecretCalendarFeed", "A calendar feed by its secret URL",
          {200: _calendar_response("The same feed as GET /api/calendar.ics, for the URL's owner.")},
          tag="calendar", errors=(404, 503),
          description="No Authorization header: the secret in the path is the credential."),
)

TAGS: tuple[Schema, ...] = (
    {"name": "calendar", "description": "An iCalendar feed of your tasks and recurring tasks."},
)

RESOURCE = Resource(
    routes=ROUTES, tags=TAGS, schemas=SCHEMAS, parameters=PARAMETERS, path_parameters={"token": "CalendarSecret"},
)
