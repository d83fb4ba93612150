"""`taskstream dev`: runs the whole system locally, starting embedded services for what is not configured."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import aiohttp

from streams.settings import Settings, from_env

from .embedded import EmbeddedBroker, EmbeddedPostgres, port_open

log = logging.getLogger(__name__)

DEMO_USER = "demo"
DEMO_TOKEN_TTL = 7 * 24 * 3600
READY_TIMEOUT = 90.0
#: A worker that dies is restarted, but not more often than this.
RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0)
#: SIGTERM gives a worker this long to stop (it drains requests and commits) before it is killed.
WORKER_STOP_TIMEOUT = 20.0
#: After a broker reset there is nothing left to commit to (the group went with the broker; a commit
#: would wait for it forever): the worker gets this long to close its sockets and requests.
RESET_STOP_TIMEOUT = 5.0
#: A topic `taskstream dev` creates with the application's and then watches. The embedded broker keeps
#: everything in memory, so a restart loses every topic and consumer group, and a worker connected to
#: it never consumes properly again (EMBEDDED-BROKER.md): when this topic is gone, the broker was
#: reset (it crashed and was restarted, or another broker took its address). A broker that does not
#: answer is an outage instead, which the worker rides out on its own: nothing is restarted for that.
BROKER_MARKER_TOPIC = "taskstream-dev-marker"
BROKER_CHECK_INTERVAL = 2.0
BROKER_PROBE_TIMEOUT = 5.0


def dev_file(data_dir: Path) -> Path:
    return data_dir / "dev.json"


def read_dev_file(data_dir: str | Path) -> dict[str, str]:
    """What a running (or the last) `taskstream dev` wrote: web_url, database_url, broker_url."""
    path = dev_file(Path(data_dir))
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def worker_command() -> list[str]:
    # --quiet: Faust's own banner (app id, transport, versions) says nothing the start banner does not.
    # --role all whatever WORKER_ROLE the shell exported: dev runs the whole system.
    return [sys.executable, "-c", "from streams.app import main; main()", "--quiet", "worker", "-l", "info",
            "--role", "all"]


async def broker_topics(settings: Settings, *, timeout: float = BROKER_PROBE_TIMEOUT) -> set[str] | None:
    """The broker's topic names, or None when it does not answer within `timeout`.

    Lists topics with a metadata request for all of them, which never auto-creates one."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    from streams.kafka import client_options

    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        return set(await asyncio.wait_for(admin.list_topics(), timeout))
    except (KafkaError, OSError, asyncio.TimeoutError):
        return None
    finally:
        try:
            await admin.close()
        except Exception as exc:  # closing a client that never connected
            log.debug("closing the broker probe failed: %s", exc)


async def wait_ready(url: str, *, timeout: float, alive: Callable[[], bool]) -> float:
    """Poll /ready until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    last = "no answer yet"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() - started < timeout:
            if not alive():
                raise RuntimeError("the worker exited before it was ready; its log is above")
            try:
                async with session.get(f"{url}/ready") as response:
                    if response.status == 200:
                        return time.monotonic() - started
                    last = (await response.text())[:300]
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                last = type(exc).__name__
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the worker was not ready within {timeout:.0f} s (last answer: {last})")


def start_banner(web_url: str, token: str, data_dir: Path, *, elapsed: float, embedded_database: bool,
                 embedded_broker: bool) -> str:
    """What a person needs once it is ready: where it answers, the signed-in dashboard, where the data is."""
    notes = [] if embedded_database else ["the database is DATABASE_URL's"]
    if embedded_broker:
        notes.append("the broker keeps its topics in memory only")
    data = f"{data_dir} ({'; '.join(notes)})" if notes else str(data_dir)
    return (f"\ntaskstream is ready in {elapsed:.1f} s at {web_url}\n"
            f"  dashboard: {web_url}/#token={token}  (signed in as '{DEMO_USER}' for 7 days)\n"
            f"  data:      {data}\n"
            f"Ctrl-C stops everything")


@dataclass
class DevServer:
    data_dir: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    out: Callable[[str], None] = print
    postgres: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | None = None
    worker: subprocess.Popen | None = None
    worker_env: dict[str, str] = field(default_factory=dict)
    web_url: str = ""

    async def start(self) -> float:
        """Start everything; returns seconds from start to a ready worker."""
        from db import migrate
        from web.auth import ensure_dev_secret, issue_token

        started = time.monotonic()
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.out("starting taskstream…")
        env = dict(self.env)
        env["DATA_DIR"] = str(self.data_dir)
        env.setdefault("WEB_BIND", "127.0.0.1")
        # A developer's webhook receiver usually runs on this machine.
        env.setdefault("WEBHOOK_ALLOW_PRIVATE", "true")
        # A person reads this output: lines for people, not for a log collector, unless asked for.
        env.setdefault("LOG_FORMAT", "console")

        if not env.get("DATABASE_URL"):
            self.postgres = await asyncio.to_thread(EmbeddedPostgres(self.data_dir / "postgres").start)
            env["DATABASE_URL"] = self.postgres.url
        if not env.get("KAFKA_BROKER_URL"):
            self.broker = await asyncio.to_thread(EmbeddedBroker(log_path=self.data_dir / "broker.log").start)
            env["KAFKA_BROKER_URL"] = self.broker.url
            env["KAFKA_PROFILE"] = "embedded"
        if not env.get("JWT_SECRET"):
            env["JWT_SECRET"] = ensure_dev_secret(self.data_dir)
        settings = from_env(env)
        if port_open(settings.web_port):
            raise RuntimeError(f"port {settings.web_port} is already in use; set WEB_PORT to a free port")

        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        await self._create_topics(settings)
        self.worker_env = env
        self.web_url = f"http://127.0.0.1:{settings.web_port}"
        self._spawn_worker()
        await wait_ready(self.web_url, timeout=READY_TIMEOUT, alive=self.worker_alive)
        elapsed = time.monotonic() - started

        token = issue_token(DEMO_USER, ttl=DEMO_TOKEN_TTL, settings=settings)
        self._write_dev_file(settings)
        self.out(start_banner(self.web_url, token, self.data_dir, elapsed=elapsed,
                              embedded_database=self.postgres is not None, embedded_broker=self.broker is not None))
        return elapsed

    def _write_dev_file(self, settings: Settings) -> None:
        details = {"web_url": self.web_url, "database_url": settings.database_url,
                   "broker_url": settings.kafka_broker_url}
        dev_file(self.data_dir).write_text(json.dumps(details, indent=2))

    async def _create_topics(self, settings) -> None:
        from streams.kafka import create_topics
        from streams.topics import TOPICS

        await create_topics(settings, TOPICS)
        await create_topics(settings, (BROKER_MARKER_TOPIC,))

    def _spawn_worker(self) -> None:
        self.worker = subprocess.Popen(worker_command(), env=self.worker_env, stdin=subprocess.DEVNULL)

    def worker_alive(self) -> bool:
        return self.worker is not None and self.worker.poll() is None

    def _stop_worker(self, timeout: float = WORKER_STOP_TIMEOUT) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(timeout)
            except subprocess.TimeoutExpired:
                self.out(f"the worker did not stop within {timeout:.0f} s; killing it")
                self.worker.kill()
                self.worker.wait(5)

    async def check_broker(self) -> str | None:
        """Why the broker must be treated as reset (its process died, or its topics are gone), or None."""
        if self.broker is not None and not self.broker.running():
            return f"the embedded broker exited with code {self.broker.process.returncode}"
        topics = await broker_topics(from_env(self.worker_env))
        if topics is not None and BROKER_MARKER_TOPIC not in topics:
            return "the broker was reset (its topics are gone)"
        return None

    async def recover_broker(self, why: str) -> float:
        """Start the embedded broker again if it died, recreate the topics, restart the worker; returns
        the seconds until the new worker was ready."""
        started = time.monotonic()
        self.out(f"{why}: restarting the worker against a fresh broker (PostgreSQL keeps every task; "
                 "the broker's topics start empty)")
        await asyncio.to_thread(self._stop_worker, RESET_STOP_TIMEOUT)
        if self.broker is not None and not self.broker.running():
            await asyncio.to_thread(self._restart_broker)
        settings = from_env(self.worker_env)
        await self._create_topics(settings)
        self._spawn_worker()
        await wait_ready(self.web_url, timeout=READY_TIMEOUT, alive=self.worker_alive)
        self._write_dev_file(settings)
        elapsed = time.monotonic() - started
        self.out(f"taskstream is ready again, {elapsed:.1f} s after the broker reset was noticed")
        return elapsed

    def _restart_broker(self) -> None:
        """On its old port when that is free, so URLs others copied stay valid; else on a fresh one."""
        old = self.broker
        broker = EmbeddedBroker(port=old.port, log_path=old.log_path)
        try:
            broker.start()
        except (RuntimeError, TimeoutError) as exc:
            broker.stop()
            self.out(f"the broker could not listen on port {old.port} again ({exc}); using another port")
            broker = EmbeddedBroker(log_path=old.log_path).start()
        self.broker = broker
        self.worker_env["KAFKA_BROKER_URL"] = broker.url
        self.out(f"embedded Kafka-protocol broker restarted on {broker.bootstrap} (memory only)")

    async def supervise(self, stop: asyncio.Event) -> None:
        """Keep the worker running until asked to stop: a crashed worker is restarted with backoff,
        and a reset broker (see BROKER_MARKER_TOPIC) gets its topics back and a fresh worker."""
        restarts = 0
        next_broker_check = time.monotonic() + BROKER_CHECK_INTERVAL
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.5)
            except asyncio.TimeoutError:
                pass
            if stop.is_set():
                continue
            if time.monotonic() >= next_broker_check:
                try:
                    why = await self.check_broker()
                    if why is not None and await self._unless_stopped(self.recover_broker(why), stop):
                        restarts = 0
                except Exception as exc:
                    self.out(f"recovering from the broker reset failed ({type(exc).__name__}: {exc}); "
                             f"trying again in {BROKER_CHECK_INTERVAL:.0f} s")
                next_broker_check = time.monotonic() + BROKER_CHECK_INTERVAL
            if stop.is_set() or self.worker_alive():
                continue
            code = self.worker.returncode if self.worker else None
            delay = RESTART_BACKOFF[min(restarts, len(RESTART_BACKOFF) - 1)]
            self.out(f"the worker exited with code {code}; restarting it in {delay:.0f} s")
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                break
            except asyncio.TimeoutError:
                pass
            restarts += 1
            self._spawn_worker()

    @staticmethod
    async def _unless_stopped(work, stop: asyncio.Event) -> bool:
        """Run `work` unless Ctrl-C comes first (then cancel it); whether it ran to the end."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return False
        task.result()
        return True

    def stop(self) -> None:
        """Stop what this command started: the worker first, then the broker and the database."""
        self._stop_worker()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()


async def run(data_dir: Path) -> int:
    server = DevServer(data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await server.start()
        except Exception as exc:
            server.out(f"taskstream dev could not start: {exc}")
            return 1
        await server.supervise(stop)
        server.out("stopping…")
        return 0
    finally:
        await asyncio.to_thread(server.stop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
