"""The taskstream Faust application; `main()` is the `taskstream` console script."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import faust

from .config import LazyFaustConfig

if TYPE_CHECKING:
    from faust.web import Web

    from agents.outbox_relay import OutboxRelay
    from db.engine import Database
    from web.gateway import Gateway

log = logging.getLogger(__name__)

#: On SIGTERM, requests already running get this long to finish (statements are bounded by
#: DATABASE_STATEMENT_TIMEOUT_MS, so a healthy request always fits) before they are cancelled.
WEB_DRAIN_SECONDS = 15.0
#: A stop that takes longer than this (say an agent retrying against an unreachable database)
#: ends the process anyway, inside Kubernetes' 60 s grace period: at-least-once delivery means
#: uncommitted messages are simply processed again by the next owner of their partition.
SHUTDOWN_DEADLINE_SECONDS = 45.0


class TaskstreamApp(faust.App):
    """The Faust app, plus the process-wide handles the web views and agents share."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._database: Database | None = None
        self._outbox: OutboxRelay | None = None
        self._gateway: Gateway | None = None
        self._web_driver: Web | None = None
        self._database_closed = False
        self.group_joined = asyncio.Event()
        self.on_rebalance_complete.connect(self._on_group_joined)

    async def _on_group_joined(self, sender: Any = None, **kwargs: Any) -> None:
        if not self.group_joined.is_set():
            log.info("joined the consumer group: partitions assigned and tables recovered")
        self.group_joined.set()

    @property
    def database(self) -> Database:
        """The database handle, created on first use on the running loop."""
        if self._database is None:
            if self._database_closed:
                raise RuntimeError("the database handle is closed: the worker is shutting down")
            from db.engine import Database

            from .settings import get_settings

            settings = get_settings()
            self._database = Database(
                settings.database_url, pool_size=settings.database_pool_size,
                statement_timeout_ms=settings.database_statement_timeout_ms,
                connect_timeout_ms=settings.database_connect_timeout_ms,
            )
        return self._database

    @property
    def outbox(self) -> OutboxRelay:
        """Publishes committed events to the broker and re-publishes what is left behind."""
        if self._outbox is None:
            from agents.outbox_relay import OutboxRelay

            self._outbox = OutboxRelay(self, loop=self.loop, beacon=self.beacon)
        return self._outbox

    @property
    def gateway(self) -> Gateway:
        """Routes task-updates to this worker's WebSocket clients."""
        if self._gateway is None:
            from web.gateway import Gateway

            self._gateway = Gateway(self, loop=self.loop, beacon=self.beacon)
        return self._gateway

    async def on_start(self) -> None:
        await super().on_start()
        from .topics import apply_topic_settings

        apply_topic_settings(self)

    async def on_started(self) -> None:
        await super().on_started()
        from .topics import declare_topics

        await declare_topics()
        from .producer import batching_producer

        # Started before the relay, so it stops after it: the relay's last flush still has a producer.
        await batching_producer(self)
        await self.add_runtime_dependency(self.outbox)
        await self.add_runtime_dependency(self.gateway)

    def on_webserver_init(self, web: Web) -> None:
        super().on_webserver_init(web)
        if web is self._web_driver:
            return  # Faust calls this hook twice
        self._web_driver = web
        # aiohttp waits this long for running handlers when the server stops (its default is 60 s,
        # the whole grace period); AppRunner takes it only as a constructor argument, and Faust builds it.
        web._runner._shutdown_timeout = WEB_DRAIN_SECONDS
        # Runs once the server has stopped listening, before it waits for running handlers: a
        # WebSocket is a handler that never ends by itself.
        web.web_app.on_shutdown.append(self._close_sockets)

    async def _close_sockets(self, _web_app: Any = None) -> None:
        if self._gateway is not None:
            await self._gateway.close_sockets()

    async def on_stop(self) -> None:
        """Graceful shutdown, in the order that loses nothing: stop taking requests and let the
        running ones finish (WebSockets closed with 1001 so clients reconnect elsewhere), then stop
        the agents and commit their offsets (Faust), then the outbox relay publishes what the last
        requests committed; the database is closed last (on_shutdown)."""
        if self.in_worker:
            self._arm_shutdown_deadline()
        if self._web_driver is not None:
            started = time.monotonic()
            await self._web_driver.stop()
            log.info("web server stopped; running requests drained in %.1f s", time.monotonic() - started)
        await super().on_stop()

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        self._database_closed = True
        if self._database is not None:
            await self._database.dispose()
            self._database = None

    def _arm_shutdown_deadline(self) -> None:
        def expire() -> None:
            log.error("shutdown did not finish within %.0f s; exiting now (messages not yet committed are "
                      "processed again by the next owner of their partition)", SHUTDOWN_DEADLINE_SECONDS)
            logging.shutdown()
            os._exit(1)

        timer = threading.Timer(SHUTDOWN_DEADLINE_SECONDS, expire)
        timer.daemon = True
        timer.start()


app = TaskstreamApp(
    "taskstream",
    config_source=LazyFaustConfig(),
    autodiscover=["streams.cli.commands", "agents", "tables", "web"],
    origin="streams",
)


def main() -> None:
    """The `taskstream` command: every faust subcommand plus our own (dev, migrate, token, topics)."""
    app.main()
