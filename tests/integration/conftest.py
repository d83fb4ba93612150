"""Integration fixtures: a real PostgreSQL, a real Kafka-protocol broker and real worker processes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator

import aiohttp
import pytest
from ci_env import skip_or_fail
from stack import Api, Worker, make_token, migrated_database, read_topic, start_broker

from streams.cli.embedded import EmbeddedBroker, EmbeddedPostgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    with migrated_database() as url:
        yield url


@pytest.fixture(scope="session")
def embedded_pg(postgres) -> EmbeddedPostgres:
    """The embedded server itself, for tests that need a second database on it."""
    if os.environ.get("DATABASE_URL"):
        skip_or_fail("uses the embedded PostgreSQL; DATABASE_URL points elsewhere")
    port = int(postgres.rsplit(":", 1)[1].split("/")[0])
    return EmbeddedPostgres(Path("."), port=port)


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> Iterator[EmbeddedBroker]:
    server = start_broker(tmp_path_factory.mktemp("broker"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def worker(postgres, broker, tmp_path_factory) -> Iterator[Worker]:
    process = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("worker")).start()
    yield process
    process.stop()


@pytest.fixture(name="make_token")
def make_token_fixture():
    """Sign tokens with the workers' secret (or another one, to test rejection)."""
    return make_token


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def api(worker, http) -> Api:
    """A fresh user per test: every test starts from an empty task list."""
    return Api(http, worker.url, f"user-{uuid.uuid4()}")


@pytest.fixture
def other_api(worker, http) -> Api:
    return Api(http, worker.url, f"other-{uuid.uuid4()}")


@pytest.fixture(name="read_topic")
def read_topic_fixture():
    return read_topic
