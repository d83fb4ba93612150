"""The web server's start-up: puts the middleware (one pass) and the closing of sockets on shutdown onto the app
(autodiscovery imports this module with the views, in every role; the WebSocket view provides the gateway)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streams.app import app

from .middleware import middlewares

if TYPE_CHECKING:
    from faust.web import Web


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


# Now, at import: the views build the same driver when they are imported (@app.page), and tests serve
# it without starting a worker.
install(app.web)
