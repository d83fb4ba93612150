"""GET /ws: live task updates for the signed-in user, resuming from a sequence number."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime

from aiohttp import WSMsgType, web

from db import events as queries
from db.serialize import iso
from streams import metrics
from streams.app import TaskstreamApp, app
from streams.events import client_update
from streams.topics import TASK_UPDATES

from ..auth import bearer_token, refused_after, verify_token
from ..errors import unauthorized
from ..gateway import Gateway, Subscriber, Update
from ..validation import fields as v
from .base import ApiView

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 20.0
REPLAY_PAGE = 500
PROTOCOL = "bearer"
#: The close code when the token a socket was opened with expires (like HTTP's 401): reconnect with a new one.
TOKEN_EXPIRED = 4401
#: The close code when the updates before one that arrived early could not be read: reconnect with since.
CLOSE_INTERNAL_ERROR = 1011


def socket_credentials(request: web.Request) -> tuple[str, bool]:
    """The token from the Authorization header, the `token` query parameter, or (browsers) the
    Sec-WebSocket-Protocol header as `bearer, <token>`; and whether that subprotocol was used."""
    header = request.headers.get("Authorization")
    if header:
        return bearer_token(header), False
    if request.query.get("token"):
        return request.query["token"], False
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if len(offered) == 2 and offered[0].lower() == PROTOCOL:
        return offered[1], True
    raise unauthorized("authentication required: a bearer token in the Authorization header, the token "
                       "parameter or the Sec-WebSocket-Protocol header ('bearer, <token>')")


def observe_push(update: dict) -> None:
    """Record how long after its commit a live update reached a socket (its occurred_at is the writer's
    clock: a negative age from clock skew between workers counts as 0)."""
    occurred_at = update.get("occurred_at")
    if not isinstance(occurred_at, str):
        return
    try:
        committed = datetime.fromisoformat(occurred_at).timestamp()
    except ValueError:
        return
    metrics.PUSH_LATENCY.observe(max(0.0, time.time() - committed))


JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
              type(None): "null"}


def bad_message(problem: str) -> dict:
    """The error frame for a message the server does not understand; the socket stays open."""
    return {"type": "error", "error": "bad_message", "message": f'{problem}; the one message a client sends is '
                                                               '{"type": "ping"}, answered with a pong'}


def reply(text: str, seq: int) -> dict:
    """The answer to a client's text message: a pong to a ping, in any JSON spelling; an error frame otherwise."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return bad_message("the message is not JSON")
    if not isinstance(message, dict):
        return bad_message(f"expected a JSON object, got {JSON_KINDS.get(type(message), 'something else')}")
    kind = message.get("type")
    if kind == "ping":
        return {"type": "pong", "seq": seq}
    if kind is None:
        return bad_message('the message has no "type"')
    return bad_message(f"unknown message type {str(kind)[:40]!r}")


def gateway(app: TaskstreamApp) -> Gateway:
    return Gateway(TASK_UPDATES, loop=app.loop, beacon=app.beacon)


# Here, with the sockets it feeds: a worker that serves no WebSockets (the stream role) runs no gateway.
app.provide("gateway", gateway)


@app.page("/ws")
class Socket(ApiView):
    async def get(self, request: web.Request) -> web.StreamResponse:
        token, via_protocol = socket_credentials(request)
        user_id = verify_token(token)
        v.reject_unknown_params(request.query, ("token", "since"))
        since = v.int_param(request.query, "since", -1, minimum=0) if request.query.get("since") else None
        gateway = self.app.gateway
        socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, protocols=(PROTOCOL,) if via_protocol else ())
        await socket.prepare(request)
        subscriber = Subscriber(user_id, socket)
        gateway.add(subscriber)  # live updates queue up from here on, while the replay runs
        writer = None
        # A socket lives no longer than its token would be accepted by the HTTP API.
        expiry = asyncio.get_running_loop().call_later(
            max(0.0, refused_after(token) - time.time()),
            lambda: asyncio.ensure_future(socket.close(
                code=TOKEN_EXPIRED, message=b"the token has expired; reconnect with a new one")),
        )
        try:
            subscriber.last_seq, reset = await self._replay(socket, user_id, since)
            ready = {"type": "ready", "seq": subscriber.last_seq}
            await self._send(socket, {**ready, "reset": True} if reset else ready)
            writer = asyncio.ensure_future(self._forward(subscriber))
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    metrics.WEBSOCKET_MESSAGES.labels("in").inc()
                    await self._send(socket, reply(message.data, subscriber.last_seq))
                elif message.type == WSMsgType.BINARY:
                    metrics.WEBSOCKET_MESSAGES.labels("in").inc()
                    await self._send(socket, bad_message("binary messages are not understood, send JSON text"))
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            expiry.cancel()
            gateway.remove(subscriber)
            if writer is not None:
                writer.cancel()
            if not socket.closed:
                await socket.close()
        return socket

    async def _replay(self, socket: web.WebSocketResponse, user_id: str, since: int | None) -> tuple[int, bool]:
        """Send every change after `since` from the audit trail; return the last sequence number sent, and
        whether `since` was reset to the latest because the user's sequence never reached it."""
        async with self.autocommit() as session:
            latest = await queries.latest_seq(session, user_id)
            if since is None:
                return latest, False
            if since > latest:
                # The client's state is not from this history (restored or reset data, another user's
                # cursor): waiting for `since` to be reached would keep the socket silent, so go live
                # from the latest and let `reset` tell the client to reload its state.
                return latest, True
            return await self._catch_up(session, socket, user_id, since), False

    async def _catch_up(self, session, socket: web.WebSocketResponse, user_id: str, last: int,
                        before: int | None = None, *, live: bool = False) -> int:
        """Send the user's changes after `last` (and before `before`, if given) from the audit trail,
        oldest first; return the last sequence number sent. `live`: they fill a gap in the live updates
        (and count as pushes), rather than replay what the client missed while away."""
        while True:
            rows = await queries.events_since(session, user_id, last, REPLAY_PAGE, before_seq=before)
            for row in rows:
                data = row.event_data
                update = client_update(
                    event_type=row.event_type, seq=row.seq, event_id=str(row.id), task_id=str(row.task_id),
                    before=data.get("before"), after=data.get("after"), changes=data.get("changes", {}),
                    occurred_at=iso(row.occurred_at),
                )
                await self._send(socket, update)
                if live:
                    observe_push(update)
                last = row.seq
            if len(rows) < REPLAY_PAGE:
                return last

    async def _forward(self, subscriber: Subscriber) -> None:
        """The socket's one writer: task updates in sequence order with no gap; the rest as they come."""
        while True:
            update = await subscriber.queue.get()
            seq = update.get("seq")
            if isinstance(seq, int):
                if seq <= subscriber.last_seq:
                    continue  # already replayed, or a duplicate delivery
                if seq > subscriber.last_seq + 1 and not await self._fill_gap(subscriber, seq):
                    return
                subscriber.last_seq = seq
            await self._send(subscriber.socket, update)
            observe_push(update)

    async def _fill_gap(self, subscriber: Subscriber, seq: int) -> bool:
        """Send the changes before `seq` that have not come yet, from the audit trail. Nothing publishes
        in sequence order (each worker's relay sends its own commits; the outbox sweep resends a failed
        send after later ones went out), but a change's audit row commits before its update is published,
        and in sequence order: every change before `seq` can be read. The late updates are dropped as
        duplicates when they come. If the read fails, close the socket (1011) so the client resumes with
        since, rather than skip changes for good."""
        try:
            async with self.autocommit() as session:
                subscriber.last_seq = await self._catch_up(
                    session, subscriber.socket, subscriber.user_id, subscriber.last_seq, before=seq, live=True)
        except Exception as exc:
            log.warning("filling a gap in the updates of user %s before seq %d failed: %s",
                        subscriber.user_id, seq, exc)
            await subscriber.socket.close(
                code=CLOSE_INTERNAL_ERROR, message=f"reconnect with since={subscriber.last_seq}".encode())
            return False
        return True

    async def _send(self, socket: web.WebSocketResponse, data: dict) -> None:
        await socket.send_str(data.text() if isinstance(data, Update) else json.dumps(data))
        metrics.WEBSOCKET_MESSAGES.labels("out").inc()
