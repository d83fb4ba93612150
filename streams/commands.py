"""Our own `taskstream` subcommands next to Faust's: dev, migrate, token and topics."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import click
from faust.cli import argument, option

from .app import app
from .settings import ConfigError, from_env


def _settings_with_dev_fallback():
    """Settings from the environment; URLs not set there come from a running `taskstream dev`."""
    from .devserver import read_dev_file

    env = dict(os.environ)
    dev = read_dev_file(env.get("DATA_DIR") or ".taskstream")
    if not env.get("DATABASE_URL") and dev.get("database_url"):
        env["DATABASE_URL"] = dev["database_url"]
    if not env.get("KAFKA_BROKER_URL") and dev.get("broker_url"):
        env["KAFKA_BROKER_URL"] = dev["broker_url"]
    try:
        return from_env(env)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@app.command(option("--data-dir", default=".taskstream", show_default=True, help="Where embedded data is kept."))
async def dev(self, data_dir: str) -> None:
    """Run the whole system locally (embedded PostgreSQL and broker unless DATABASE_URL/KAFKA_BROKER_URL are set)."""
    from .devserver import run

    code = await run(Path(data_dir))
    if code:
        raise SystemExit(code)


@app.command(option("--down", "down", default=None, help="Downgrade to this revision instead (e.g. base)."))
async def migrate(self, down: str | None) -> None:
    """Upgrade the database schema to the latest revision (or downgrade with --down REV)."""
    from db import migrate as migrations
    from db.engine import redact_url

    settings = _settings_with_dev_fallback()
    target = redact_url(settings.database_url)
    try:
        if down:
            await asyncio.to_thread(migrations.downgrade, settings.database_url, down)
            self.say(f"database {target} downgraded to {down}")
        else:
            await asyncio.to_thread(migrations.upgrade, settings.database_url)
            self.say(f"database {target} is at the latest revision")
    except OSError as exc:
        raise click.ClickException(f"cannot reach the database at {target}: {exc}; check DATABASE_URL") from None


@app.command(
    argument("user_id"),
    option("--ttl", type=int, default=24 * 3600, show_default=True, help="Seconds until the token expires."),
)
async def token(self, user_id: str, ttl: int) -> None:
    """Print a signed JWT for USER_ID (on the last line)."""
    from web.auth import MissingSecret, issue_token

    if ttl < 1:
        raise click.BadParameter("must be at least 1 second", param_hint="--ttl")
    if not user_id.strip() or len(user_id) > 255:
        raise click.BadParameter("must be 1-255 characters", param_hint="USER_ID")
    try:
        print(issue_token(user_id, ttl=ttl, settings=_settings_with_dev_fallback()))
    except MissingSecret as exc:
        raise click.ClickException(str(exc)) from None


@app.command(
    argument("action", type=click.Choice(["list", "tail"])),
    argument("topic", required=False),
    option("--from-beginning", is_flag=True, help="Read from the first retained message."),
    option("--user", "user", default=None, help="Only messages keyed by this user id."),
    option("--follow", is_flag=True, help="Keep printing new messages until interrupted."),
)
async def topics(self, action: str, topic: str | None, from_beginning: bool, user: str | None, follow: bool) -> None:
    """List topics, or print a topic's messages as decoded JSON lines (with partition and offset)."""
    settings = _settings_with_dev_fallback()
    if action == "list":
        await _list_topics(settings)
        return
    if not topic:
        raise click.UsageError("tail needs a topic name, e.g. `taskstream topics tail task-events`")
    await _tail(settings, topic, from_beginning=from_beginning, user=user, follow=follow)


async def _list_topics(settings) -> None:
    from aiokafka import AIOKafkaConsumer

    from .kafka import client_options

    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        names = sorted(await consumer.topics())
        for name in names:
            partitions = consumer.partitions_for_topic(name) or set()
            print(json.dumps({"topic": name, "partitions": len(partitions)}))
    finally:
        await consumer.stop()


def _decode(raw: bytes | None):
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", errors="replace")


async def _tail(settings, topic: str, *, from_beginning: bool, user: str | None, follow: bool) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from .kafka import client_options

    # No group: a tail never moves anybody's committed offsets.
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        # Check the full topic list first: asking for one topic's metadata may auto-create it.
        partitions = consumer.partitions_for_topic(topic) if topic in await consumer.topics() else None
        if not partitions:
            raise click.ClickException(f"topic {topic!r} does not exist; see `taskstream topics list`")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        if from_beginning:
            await consumer.seek_to_beginning(*assigned)
        else:
            await consumer.seek_to_end(*assigned)
        ends = await consumer.end_offsets(assigned)
        remaining = {tp for tp in assigned if from_beginning and ends[tp] > await consumer.position(tp)}
        if not follow and not remaining:
            return
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                for message in messages:
                    key = message.key.decode("utf-8", errors="replace") if message.key is not None else None
                    if user is None or key == user:
                        print(json.dumps({
                            "topic": tp.topic, "partition": tp.partition, "offset": message.offset, "key": key,
                            "timestamp": datetime.fromtimestamp(message.timestamp / 1000, timezone.utc).isoformat(),
                            "value": _decode(message.value),
                        }), flush=True)
                    if message.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
            if not follow and not remaining:
                return
    finally:
        await consumer.stop()


__all__ = ["dev", "migrate", "token", "topics"]
