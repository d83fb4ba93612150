"""The taskstream Faust application; `main()` is the `taskstream` console script."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

import faust
from faust.app.base import BootStrategy
from mode import ServiceT

from db.engine import Database

from .config import LazyFaustConfig
from .producer import batching_producer
from .roles import apply_role_flag, discovery_modules
from .settings import ConfigError, get_settings

if TYPE_CHECKING:
    from faust.web import Web

log = logging.getLogger(__name__)

#: On SIGTERM, requests already running get this long to finish (statements are bounded by
#: DATABASE_STATEMENT_TIMEOUT_MS, so a healthy request always fits) before they are cancelled.
WEB_DRAIN_SECONDS = 15.0
#: A stop that takes longer than this (say an agent retrying against an unreachable database)
#: ends the process anyway, inside Kubernetes' 60 s grace period: at-least-once delivery means
#: uncommitted messages are simply processed again by the next owner of their partition.
SHUTDOWN_DEADLINE_SECONDS = 45.0
#: The services that modules built on the app provide (`app.provide`), with the module that does: the
#: outbox relay and the WebSocket gateway. They start in this order once the topics are declared and the
#: batching producer runs, and stop in the reverse order.
PROVIDED_SERVICES = {"outbox": "agents.outbox_relay", "gateway": "web.views.websocket"}

ServiceFactory = Callable[["TaskstreamApp"], ServiceT]


class RoleBootStrategy(BootStrategy):
    """A worker without agents and tables (the web role) joins no consumer group: no partition would
    be assigned to it, and a member with nothing to read would still take part in every rebalance."""

    def _should_enable_kafka_consumer(self) -> bool:
        return self.app.consumes and super()._should_enable_kafka_consumer()


class TaskstreamApp(faust.App):
    """The Faust app, plus the process-wide handles the web views and agents share."""

    BootStrategy = RoleBootStrategy

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._database: Database | None = None
        self._factories: dict[str, ServiceFactory] = {}
        self._provided: dict[str, ServiceT] = {}
        self._running: set[str] = set()
        self._web_driver: Web | None = None
        self._database_closed = False
        self.group_joined = asyncio.Event()
        self.on_rebalance_complete.connect(self._on_group_joined)

    async def _on_group_joined(self, sender: Any = None, **kwargs: Any) -> None:
        if not self.group_joined.is_set():
            log.info("joined the consumer group: partitions assigned and tables recovered")
        self.group_joined.set()

    @property
    def consumes(self) -> bool:
        """Whether this worker reads topics in the app's consumer group: it has agents or tables (the
        modules its role imports register them)."""
        return bool(self.agents) or bool(self.tables)

    def kafka_status(self) -> str:
        """`ok` once this worker's Kafka side runs: its consumer group joined and tables recovered (when
        it has agents or tables) and its provided services started (the relay; the gateway where
        WebSockets are served); otherwise what it is waiting for."""
        if self.consumes and not self.group_joined.is_set():
            return "joining consumer group"
        waiting = [name for name in PROVIDED_SERVICES if name in self._factories and name not in self._running]
        return f"starting {' and '.join(waiting)}" if waiting else "ok"

    @property
    def database(self) -> Database:
        """The database handle, created on first use on the running loop."""
        if self._database is None:
            if self._database_closed:
                raise RuntimeError("the database handle is closed: the worker is shutting down")
            settings = get_settings()
            self._database = Database(
                settings.database_url, pool_size=settings.database_pool_size,
                statement_timeout_ms=settings.database_statement_timeout_ms,
                connect_timeout_ms=settings.database_connect_timeout_ms,
            )
        return self._database

    def provide(self, name: str, factory: ServiceFactory) -> None:
        """Say how to build the service `app.<name>` returns. The modules built on the app compose it, so
        the app imports none of them. It is built on first use (a request may need it before the worker
        has started) and started once the worker has (see on_started)."""
        if name not in PROVIDED_SERVICES:
            raise ValueError(f"app.{name} is not one of the provided services ({', '.join(PROVIDED_SERVICES)})")
        self._factories[name] = factory

    def provided(self, name: str) -> Any:
        """The service registered as `name`, built now if nobody has used it yet."""
        service = self._provided.get(name)
        if service is None:
            factory = self._factories.get(name)
            if factory is None:
                raise RuntimeError(f"nothing provides app.{name}: {PROVIDED_SERVICES[name]} does when it is "
                                   "imported (a worker's autodiscovery imports it)")
            service = self._provided[name] = factory(self)
        return service

    @property
    def outbox(self) -> Any:
        """Publishes committed events to the broker and re-publishes what is left behind."""
        return self.provided("outbox")

    @property
    def gateway(self) -> Any:
        """Routes task-updates to this worker's WebSocket clients."""
        return self.provided("gateway")

    def built(self, name: str) -> Any | None:
        """The service registered as `name` if something has used it, else None (and nothing is built)."""
        return self._provided.get(name)

    async def on_started(self) -> None:
        # Table recovery, then the web server and the @app.service services, among them the topics'
        # declaration (streams/topics.py): the relay and the gateway below need those topics.
        log.info("worker role %s: %d agents, %d tables, %s", get_settings().worker_role, len(self.agents),
                 len(self.tables), "serving WebSockets" if "gateway" in self._factories else "no WebSockets")
        await super().on_started()
        if self.should_stop:
            return  # stopped while the tables recovered: start nothing more
        # Started before the relay, so it stops after it: the relay's last flush still has a producer.
        await batching_producer(self)
        for name in PROVIDED_SERVICES:
            if name in self._factories:
                await self.add_runtime_dependency(self.provided(name))
                self._running.add(name)

    def on_webserver_init(self, web: Web) -> None:
        super().on_webserver_init(web)
        if web is self._web_driver:
            return  # Faust calls this hook twice
        self._web_driver = web
        # aiohttp waits this long for running handlers when the server stops (its default is 60 s,
        # the whole grace period); AppRunner takes it only as a constructor argument, and Faust builds it.
        web._runner._shutdown_timeout = WEB_DRAIN_SECONDS

    async def on_stop(self) -> None:
        """Graceful shutdown, in the order that loses nothing: stop taking requests and let the
        running ones finish (WebSockets closed with 1001 so clients reconnect elsewhere; web/startup.py
        hooks that on the server's shutdown), then stop the agents and commit their offsets (Faust), then
        the outbox relay publishes what the last requests committed; the database is closed last
        (on_shutdown)."""
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
    # Called when Faust discovers the app's modules, once settings can be read: the role decides them.
    autodiscover=lambda: discovery_modules(get_settings().worker_role),
    origin="streams",
)


def main() -> None:
    """The `taskstream` command: every faust subcommand plus our own (dev, migrate, token, topics)."""
    try:
        apply_role_flag(sys.argv, os.environ)
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app.main()
