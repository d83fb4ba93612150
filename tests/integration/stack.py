"""The test stack's moving parts: worker processes, a signed-in API client, topic reading."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import aiohttp
import jwt

from streams.cli.embedded import EmbeddedBroker, EmbeddedPostgres, free_port

JWT_SECRET = "integration-tests-secret-0123456789abcdef"


@contextlib.contextmanager
def migrated_database() -> Iterator[str]:
    """A migrated database URL: DATABASE_URL when set, otherwise an embedded server, stopped afterwards.

    Its data lives in a folder of its own, not under pytest's basetemp: a second pytest session on the
    machine prunes old basetemp folders and tightens their permissions, which would pull the data
    folder from under a running server.
    """
    from db import migrate

    url = os.environ.get("DATABASE_URL")
    server = folder = None
    if not url:
        folder = Path(tempfile.mkdtemp(prefix="taskstream-test-pg-"))
        server = EmbeddedPostgres(folder / "data").start()
        url = server.url
    try:
        migrate.upgrade(url)
        yield url
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(folder, ignore_errors=True)


def start_broker(tmp: Path) -> EmbeddedBroker:
    return EmbeddedBroker(log_path=tmp / "broker.log").start()


class Worker:
    """A `taskstream worker` subprocess, as it runs in a pod."""

    def __init__(self, *, database_url: str, broker_url: str, data_dir: Path, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir / f"worker-{self.port}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BROKER_URL": broker_url,
            "KAFKA_PROFILE": "embedded",
            "JWT_SECRET": JWT_SECRET,
            "WEB_PORT": str(self.port),
            "WEB_BIND": "127.0.0.1",
            "DATA_DIR": str(data_dir),
            # Tests create many tasks quickly; the tests of rate limiting pass RATE_LIMIT themselves.
            "RATE_LIMIT": "off",
            # The tests' webhook receivers listen on 127.0.0.1; test_webhook_addresses.py turns it off.
            "WEBHOOK_ALLOW_PRIVATE": "true",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Worker":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from streams.app import main; main()", "worker", "-l", "info"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def make_token(sub: Any = None, *, ttl: int = 3600, secret: str = JWT_SECRET, algorithm: str = "HS256",
               **claims: Any) -> str:
    now = int(time.time())
    payload = {"iat": now, "exp": now + ttl, **claims}
    if sub is not None:
        payload["sub"] = sub
    return jwt.encode(payload, secret, algorithm=algorithm)


class Api:
    """A signed-in HTTP client for one user."""

    def __init__(self, session: aiohttp.ClientSession, base: str, user_id: str):
        self.session, self.base, self.user_id = session, base, user_id
        self.token = make_token(user_id)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    async def call(self, method: str, path: str, *, json_body: Any = None, data: Any = None,
                   headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                   auth: bool = True) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        all_headers = self.headers(headers) if auth else (headers or {})
        async with self.session.request(method, self.base + path, json=json_body, data=data,
                                        headers=all_headers, params=params) as response:
            text = await response.text()
            body = json.loads(text) if text and response.content_type == "application/json" else text
            return response.status, body, response.headers

    async def create(self, **fields: Any) -> dict[str, Any]:
        status, body, _ = await self.call("POST", "/api/tasks", json_body={"title": "a task", **fields})
        assert status == 201, body
        return body


async def read_topic(broker_url: str, topic: str, *, key: str | None = None, expect: int,
                     timeout: float = 20, raw: bool = False) -> list[dict[str, Any]]:
    """Read `topic` from the beginning until `expect` messages with `key` arrived (or the timeout)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.kafka import bootstrap_servers

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker_url), enable_auto_commit=False)
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        partitions = set()
        deadline = time.monotonic() + timeout
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await asyncio.sleep(0.2)
                await consumer.topics()  # refreshes metadata
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while len(found) < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for tp, messages in batches.items():
                for message in messages:
                    if key is None or (message.key or b"").decode() == key:
                        found.append({"partition": tp.partition, "offset": message.offset,
                                      "key": message.key.decode() if message.key else None,
                                      "headers": dict(message.headers or []),
                                      "value": message.value if raw else json.loads(message.value)})
        return found
    finally:
        await consumer.stop()


@contextlib.contextmanager
def own_database(embedded_pg: EmbeddedPostgres, prefix: str) -> Iterator[str]:
    """A fresh migrated database on the session's embedded server, dropped afterwards.

    For tests that count outbox rows or topic contents: every worker sweeps the outbox of its
    database, so the session worker (publishing to the session broker) would take rows left behind
    by a test's own, frozen or killed, stack.
    """
    from db import migrate

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    embedded_pg.psql("postgres", f"CREATE DATABASE {name}")
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{embedded_pg.port}/{name}"
        migrate.upgrade(url)
        yield url
    finally:
        embedded_pg.psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")


def child_processes(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the direct children of `pid`, read from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                children.append((int(entry.name), command.strip()))
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    return children


class DevProcess:
    """A running `taskstream dev`: its URLs (from DATA_DIR/dev.json), the demo token and its children."""

    def __init__(self, process: subprocess.Popen, data_dir: Path, log_path: Path) -> None:
        self.process, self.data_dir, self.log_path = process, data_dir, log_path

    def info(self) -> dict[str, str]:
        """What dev.json says now (rewritten when the dev server restarts the broker)."""
        return json.loads((self.data_dir / "dev.json").read_text())

    @property
    def web_url(self) -> str:
        return self.info()["web_url"]

    @property
    def database_url(self) -> str:
        return self.info()["database_url"]

    @property
    def broker_url(self) -> str:
        return self.info()["broker_url"]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def token(self) -> str:
        """The demo user's token, as printed in the dashboard link."""
        return self.output().split("#token=", 1)[1].split()[0]

    def child(self, marker: str) -> int | None:
        """The pid of the child process whose command line contains `marker` (e.g. "tansu", " worker ")."""
        for pid, command in child_processes(self.process.pid):
            if marker in command:
                return pid
        return None

    async def wait_for_new_worker(self, old_pid: int, *, timeout: float) -> float:
        """Seconds until a worker other than `old_pid` answers /ready (after the dev server restarted it)."""
        started = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while time.monotonic() - started < timeout:
                assert self.process.poll() is None, f"taskstream dev exited:\n{self.output()[-3000:]}"
                pid = self.child(" worker ")
                if pid is not None and pid != old_pid:
                    try:
                        async with http.get(f"{self.web_url}/ready") as response:
                            if response.status == 200:
                                return time.monotonic() - started
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"no new ready worker within {timeout:.0f} s:\n{self.output()[-3000:]}")


@contextlib.contextmanager
def running_dev(tmp: Path, *, env: dict[str, str] | None = None, timeout: float = 90) -> Iterator[DevProcess]:
    """Start `taskstream dev` in a data folder under `tmp` (embedded PostgreSQL and broker unless `env`
    names them) on a free port, wait until it is ready, and stop it (SIGTERM, then SIGKILL) afterwards."""
    data_dir = tmp / "dev"
    log_path = tmp / "dev.log"
    clean = {k: v for k, v in os.environ.items() if k not in {
        "DATABASE_URL", "KAFKA_BROKER_URL", "KAFKA_PROFILE", "WEB_PORT", "DATA_DIR"}}
    full_env = {**clean, "JWT_SECRET": JWT_SECRET, "WEB_PORT": str(free_port()), "RATE_LIMIT": "off", **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-u", "-c", "from streams.app import main; main()", "dev", "--data-dir", str(data_dir)],
            env=full_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    dev = DevProcess(process, data_dir, log_path)
    try:
        deadline = time.monotonic() + timeout
        while not (data_dir / "dev.json").exists() or "Ctrl-C stops everything" not in dev.output():
            if process.poll() is not None:
                raise RuntimeError(f"taskstream dev exited with {process.returncode}:\n{dev.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"taskstream dev not ready within {timeout} s:\n{dev.output()[-3000:]}")
            time.sleep(0.1)
        yield dev
    finally:
        if process.poll() is None:
            children = child_processes(process.pid)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                # Killed, it cannot stop what it started: do it here.
                process.kill()
                process.wait(10)
                for pid, _ in children:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                if (data_dir / "postgres" / "postmaster.pid").exists():
                    EmbeddedPostgres(data_dir / "postgres").stop(mode="immediate")
