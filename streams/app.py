"""The taskstream Faust application; `main()` is the `taskstream` console script."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import faust

from .config import LazyFaustConfig

if TYPE_CHECKING:
    from agents.outbox_relay import OutboxRelay
    from db.engine import Database
    from web.gateway import Gateway

log = logging.getLogger(__name__)


class TaskstreamApp(faust.App):
    """The Faust app, plus the process-wide handles the web views and agents share."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._database: Database | None = None
        self._outbox: OutboxRelay | None = None
        self._gateway: Gateway | None = None
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
            from db.engine import Database

            from .settings import get_settings

            settings = get_settings()
            self._database = Database(settings.database_url, pool_size=settings.database_pool_size)
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
        await self.add_runtime_dependency(self.outbox)
        await self.add_runtime_dependency(self.gateway)

    async def on_stop(self) -> None:
        await super().on_stop()
        if self._database is not None:
            await self._database.dispose()
            self._database = None


app = TaskstreamApp(
    "taskstream",
    config_source=LazyFaustConfig(),
    autodiscover=["streams.commands", "agents", "tables", "web"],
    origin="streams",
)


def main() -> None:
    """The `taskstream` command: every faust subcommand plus our own (dev, migrate, token, topics)."""
    app.main()
