"""Live updates: the WebSocket route and its parameters."""

from __future__ import annotations

from ..validation import fields as v
from .schema import Resource, Route, Schema, query_int, ref

PARAMETERS: dict[str, Schema] = {
    "SocketToken": {
        "name": "token", "in": "query", "required": False, "schema": {"type": "string"},
        "description": "The bearer token, for clients that cannot send headers.",
    },
    "Since": query_int("since", default=0, minimum=0, maximum=v.INT_MAX,
                       description="Replay every change after this sequence number before going live."),
}

ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/ws", "openUpdateSocket", "Live updates (WebSocket)",
        {101: {
            "description": "Switching to the WebSocket protocol. The server sends JSON text messages: with "
            "`since`, first every change after that sequence number from the audit trail, oldest first; then "
            '`{"type": "ready", "seq": N}`; then each new change as it happens: `{"type": "task.created" | '
            '"task.updated" | "task.completed" | "task.uncompleted" | "task.deleted", "seq", "event_id", '
            '"task_id", "task", "changes", "occurred_at"}` (the shape of streams/schemas/task-update.json). '
            "Sequence numbers are per user, gap-free and increasing, and each socket receives them in order "
            "with none skipped, whichever worker handled each change: reconnect with `since` = the last one "
            "received to miss nothing. A `since` above the user's latest sequence number (the server's data "
            'was restored or reset) cannot be resumed: the socket goes live from the latest and says '
            '`{"type": "ready", "seq": <latest>, "reset": true}`; reload your state (e.g. GET /api/tasks). '
            'Send `{"type": "ping"}` for a `pong`; the server also pings every 20 s. '
            'Anything else the client sends gets `{"type": "error", "error": "bad_message", "message"}` and '
            "the socket stays open. "
            "Close codes: 1001 the server is shutting down (reconnect), 4008 the client fell more than 1,000 "
            "updates behind (reconnect with since), 1011 the changes an update depends on could not be read "
            "(reconnect with since), 4401 the token expired (reconnect with a new token and since).",
            "headers": {"X-Request-ID": ref("RequestId", "headers")},
        }},
        tag="live",
        description="Authenticate with the Authorization header, the `token` query parameter, or (browsers) "
        "the Sec-WebSocket-Protocol header `bearer, <token>` (the server then selects `bearer`). A socket "
        "receives only its own user's changes, whichever worker handled the write.",
        query=("SocketToken", "Since"), errors=(400, 401),
    ),
)

TAGS: tuple[Schema, ...] = (
    {"name": "live", "description": "Live updates of your tasks over a WebSocket."},
)

RESOURCE = Resource(routes=ROUTES, tags=TAGS, parameters=PARAMETERS)
