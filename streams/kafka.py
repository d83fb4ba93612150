"""Plain aiokafka clients for tools (topic admin, tailing, tests), configured like the app's own."""

from __future__ import annotations

import ssl
from typing import Any

from .settings import Settings


def bootstrap_servers(broker_url: str) -> list[str]:
    """`kafka://h1:9092;h2:9092` (Faust's form) or `h1:9092,h2:9092` → ["h1:9092", "h2:9092"]."""
    servers = []
    for part in broker_url.replace(";", ",").split(","):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        if part:
            servers.append(part.rstrip("/"))
    if not servers:
        raise ValueError("KAFKA_BROKER_URL names no broker; expected e.g. kafka://127.0.0.1:9092")
    return servers


def client_options(settings: Settings, broker_url: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(broker_url or settings.kafka_broker_url),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.endswith("SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_security_protocol.startswith("SASL_"):
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password,
        )
    return options


async def create_topics(settings: Settings, names: tuple[str, ...], broker_url: str | None = None) -> list[str]:
    """Create the application's topics with the configured partitions and retention; returns those created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(**client_options(settings, broker_url))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs={"retention.ms": str(settings.topic_retention_ms)},
            )
            for name in names
            if name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another process created them meanwhile
        return [topic.name for topic in wanted]
    finally:
        await admin.close()
