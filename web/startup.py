"""The web server's start-up: puts the middleware (one pass), the WebSocket gateway and the closing of sockets
on shutdown onto the app (autodiscovery imports this module with the views)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streams.app import TaskstreamApp, app
from streams.topics import TASK_UPDATES

from .gateway import Gateway
from .middleware import middlewares

if TYPE_CHECKING:
    from faust.web import Web


def gateway(app: TaskstreamApp) -> Gateway:
    return Gateway(TASK_UPDATES, loop=app.loop, beacon=app.beacon)


async def close_sockets(_web_app: Any = None) -> None:
    """Every WebSocket hears 1001 (going away); a gateway nobody used has none."""
    built = app.built("gateway")
    if built is not None:
        await built.close_sockets()


def install(web: Web) -> None:
    """The middleware and the socket closing, on the web driver's aiohttp application (which
    freezes them when it starts serving)."""
    web.web_app.middlewares.extend(middlewares(database=lambda: app.database))
    # Runs once the server has stopped listening, before it waits for running handlers: a
    # WebSocket is a handler that never ends by itself.
    web.web_app.on_shutdown.append(close_sockets)


app.provide("gateway", gateway)
# Now, at import: the views build the same driver when they are imported (@app.page), and tests serve
# it without starting a worker.
install(app.web)
