"""Faust settings derived from our Settings, read lazily when the app is configured (never at import time)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator

import faust

from .logs import logging_config
from .settings import Settings, get_settings

MAX_BODY_BYTES = 1024 * 1024


def _broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile) if protocol.endswith("SSL") else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,
    )


def faust_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "broker": settings.kafka_broker_url,
        "broker_credentials": _broker_credentials(settings),
        "store": "memory://",
        "datadir": str(Path(settings.data_dir) / "faust"),
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication_factor,
        "processing_guarantee": "at_least_once",
        # A send that cannot complete fails after this long; the outbox relay retries it.
        "producer_request_timeout": 30.0,
        "web_enabled": True,
        "web_bind": settings.web_bind,
        "web_port": settings.web_port,
        # The middleware chain is installed by web/startup.py.
        "web_application_options": {"client_max_size": MAX_BODY_BYTES},
        "consumer_auto_offset_reset": "earliest",
        "logging_config": logging_config(settings.log_level, settings.log_format),
    }
    if settings.embedded_broker:
        # Measured on the embedded broker (EMBEDDED-BROKER.md): with Faust's default 60 s session
        # timeout every group join takes 30 s; multi-record batches break ListOffsets LATEST,
        # which silently loses table updates on recovery.
        options.update(
            broker_session_timeout=2.0,
            broker_heartbeat_interval=0.5,
            producer_max_batch_size=1,
        )
        # The broker holds an idle fetch for the whole long-poll even when messages arrive.
        from .embedded_fetch import install

        install()
    return options


class LazyFaustConfig(Mapping):
    """A mapping Faust reads when it configures the app: the environment is read then, not at import."""

    def __init__(self) -> None:
        self._options: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._options is None:
            self._options = faust_options(get_settings())
        return self._options

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())
