"""Benchmark: many concurrent users (an HTTP mix of reads and writes, one WebSocket each) on one worker, then two.

Each phase runs on an embedded PostgreSQL and broker of its own (so the phases start from the same
data) with 1 or N workers sharing them. Every user has a JWT of their own, a few seeded tasks and one
WebSocket open for the whole run (connected before the measured window; a failed connect is an error),
and behaves like a person: think 1-5 s (seeded RNG), then one action:

  55%  list:   GET /api/tasks, a third of the time with a filter, a sort or both
  15%  read:   GET /api/tasks/{id}
  15%  create: POST /api/tasks
  10%  change: PATCH /api/tasks/{id} with If-Match (half), or complete/uncomplete (half)
   5%  search: GET /api/tasks?search=...

Target: zero errors and p99 <= 250 ms. An error is any non-2xx answer, a timeout or a connection
failure; latencies include failed requests. With several workers each HTTP request goes to the next
worker in turn (a round-robin load balancer) and the sockets are dealt out round-robin, so many pushes
cross from the worker that took the write to the one holding the socket. Push latency is the time from
sending a write to its update arriving on the writer's socket ("own socket"), and, for the users with a
second device (--other-devices, a share of the users; its socket is on the next worker), on that
device's socket: p50/p99/max of each, per phase. The workers' own histogram of it
(taskstream_push_latency_seconds, from the write's commit to the socket write) is shown with the
server-side figures.

To show where the time goes, each phase also reports the workers' own latency histograms (HTTP and
SQL statements), their pool in use, the outbox-to-broker lag of the window's events, and per process
the CPU used and the time spent runnable but waiting for a CPU.

The workers run with RATE_LIMIT=off: every request comes from 127.0.0.1, so the per-address limit
would throttle the benchmark, not protect anything.

The load generator is one Python process on the same machine: it shares the cores with the workers,
PostgreSQL and the broker (and whatever else runs there), so its own event-loop lag and CPU use are
reported next to theirs, as is the load average.

Run: .venv/bin/python tests/bench/bench_load.py [--users 1000] [--seconds 60] [--workers 1,2]
     [--think-min 1] [--think-max 5] [--seed-tasks 5] [--other-devices 0.1] [--pool-size N]
     [--profile embedded|kafka]
     (a quick check: --users 50 --seconds 10)
Prints a table per phase and writes tests/bench/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from stack import Worker, make_token, start_broker

from db import migrate
from streams.cli.embedded import EmbeddedBroker, EmbeddedPostgres

RESULTS = ROOT / "tests" / "bench" / "results" / "load.json"
TARGET_P99_MS = 250.0
#: Error bodies kept per phase, to show what went wrong.
ERROR_SAMPLES = 8
#: How long after the window the pushes of its last writes may still arrive.
PUSH_SETTLE_S = 10.0

TITLES = (
    "Buy milk for the office", "Write the quarterly report", "Call the dentist", "Fix the login bug",
    "Plan the team offsite", "Review the pull request", "Book flights to Berlin", "Renew the passport",
    "Pay the electricity bill", "Prepare the budget meeting", "Water the plants", "Update the roadmap",
    "Send invoices to clients", "Clean the garage", "Backup the laptop", "Read the design document",
)
TAGS = ("work", "home", "errand", "urgent", "finance", "health", "travel", "reading")
#: Whole words, prefixes while typing and a misspelling, as people type them.
SEARCHES = ("report", "dentist", "berlin", "invoice", "budget", "revie", "plan", "passprt", "garage", "roadmap")
#: The filtered and sorted lists people keep open.
LIST_VARIANTS = (
    {"completed": "false", "sort_by": "due_date", "sort_order": "asc"},
    {"priority": "high,medium", "sort_by": "priority", "sort_order": "desc"},
    {"tags": "work"},
    {"filter": "priority:high & !done"},
    {"filter": "#work & due<7d", "sort_by": "due_date"},
    {"sort_by": "updated_at", "sort_order": "desc", "limit": "50"},
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# Measuring ---------------------------------------------------------------------------------------


@dataclass
class Route:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: Counter = field(default_factory=Counter)


class Recorder:
    """Latencies and errors per route template, WebSocket counts, and the first few error bodies."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = defaultdict(Route)
        self.samples: list[str] = []
        self.measuring = False
        self.ws_messages: Counter = Counter()
        self.ws_errors: Counter = Counter()
        #: (task id, version, device) -> when its update first arrived on that socket of the owner
        #: (device 0 is the one the user writes from; 1 is their other device, if they have one).
        self.arrivals: dict[tuple[str, int, int], float] = {}
        #: (task id, version, when the write was sent, the user's sockets) of every successful write in the window.
        self.writes: list[tuple[str, int, float, int]] = []

    def pushes(self, device: int) -> dict[str, Any]:
        """How long the window's writes took to reach the user's socket `device`: counts, p50/p99/max."""
        expected = [(t, v, sent) for t, v, sent, devices in self.writes if devices > device]
        times = [self.arrivals[(t, v, device)] - sent for t, v, sent in expected if (t, v, device) in self.arrivals]
        return {"writes": len(expected), "arrived": len(times), "missed": len(expected) - len(times),
                "p50_ms": ms(percentile(times, 50)), "p99_ms": ms(percentile(times, 99)),
                "max_ms": ms(max(times, default=float("nan")))}

    def settled(self) -> bool:
        """Every write of the window has reached every socket of its user."""
        return all((t, v, device) in self.arrivals for t, v, _, devices in self.writes for device in range(devices))

    def request(self, route: str, elapsed: float, status: int | None, detail: str = "") -> None:
        if not self.measuring:
            return
        entry = self.routes[route]
        entry.latencies.append(elapsed)
        entry.statuses[status if status is not None else "exception"] += 1
        if status is None or not 200 <= status < 300:
            entry.errors += 1
            if len(self.samples) < ERROR_SAMPLES:
                self.samples.append(f"{route}: {status or 'no response'} after {ms(elapsed)} ms: {detail[:300]}")

    def ws_error(self, kind: str, detail: str = "") -> None:
        self.ws_errors[kind] += 1
        if len(self.samples) < ERROR_SAMPLES:
            self.samples.append(f"WebSocket {kind}: {detail[:300]}")


class ProcessMeter:
    """CPU seconds and memory of a process, or (`tree`) of it and everything it started, including
    children already reaped (PostgreSQL's backends come and go with the pool's overflow connections)."""

    def __init__(self, pid: int, *, tree: bool = False) -> None:
        self.process = psutil.Process(pid)
        self.tree = tree

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.process, *(self.process.children(recursive=True) if self.tree else ())]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for index, process in enumerate(self._tree()):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
            if index == 0 and self.tree:  # backends that exited: the postmaster reaped them
                total += times.children_user + times.children_system
        return total

    def cpu_waits(self) -> dict[str, float]:
        """Per thread, the seconds it was runnable but waiting for a CPU (/proc/PID/task/TID/schedstat)."""
        waits = {}
        for process in self._tree():
            for stat in Path(f"/proc/{process.pid}/task").glob("*/schedstat"):
                try:
                    waits[stat.parent.name] = int(stat.read_text().split()[1]) / 1e9
                except (OSError, IndexError, ValueError):
                    continue  # the thread ended meanwhile
        return waits

    def memory_mib(self) -> float:
        """RSS of a single process; for a tree (PostgreSQL) the sum of PSS, which counts shared memory once."""
        tree = self._tree()
        if not tree:
            return float("nan")
        if not self.tree:
            try:
                return tree[0].memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                return float("nan")
        total = 0
        for process in tree:
            try:
                total += process.memory_full_info().pss
            except psutil.NoSuchProcess:
                continue  # a backend that exited meanwhile
        return total / 2**20


def waited(before: dict[str, float], after: dict[str, float]) -> float:
    """CPU wait between two cpu_waits() snapshots, over the threads alive at the end (a backend that
    exited meanwhile is missing: PostgreSQL's figure is a lower bound)."""
    return sum(value - before.get(tid, 0.0) for tid, value in after.items())


def postmaster_pid(pg: EmbeddedPostgres) -> int:
    return int((pg.data_dir / "postmaster.pid").read_text().splitlines()[0])


def machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


# Server-side metrics -----------------------------------------------------------------------------


async def scrape(http: aiohttp.ClientSession, worker: Worker) -> dict[str, Any]:
    """From the worker's /metrics: its pool, outbox and consumer-lag gauges (the monitor updates the
    latter every 5 s) and its HTTP, SQL statement and push latency histograms (cumulative)."""
    async with http.get(worker.url + "/metrics") as response:
        text = await response.text()
    pool = {}
    gauges: dict[str, float] = defaultdict(float)
    buckets: dict[tuple[str, str], dict[float, float]] = defaultdict(dict)
    sums: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "taskstream_db_pool_connections":
                pool[sample.labels["state"]] = sample.value
            elif sample.name in ("taskstream_outbox_backlog", "taskstream_outbox_oldest_age_seconds"):
                gauges[sample.name.removeprefix("taskstream_")] = sample.value
            elif sample.name == "taskstream_consumer_lag" and sample.labels["topic"] == "task-events":
                gauges["consumer_lag task-events"] += sample.value  # the fan-out agent's backlog
            elif sample.name.startswith(("taskstream_http_request_duration_seconds_",
                                         "taskstream_db_query_duration_seconds_",
                                         "taskstream_push_latency_seconds_")):
                key = ((sample.labels["method"], sample.labels["route"]) if "route" in sample.labels
                       else ("PUSH", "commit → socket write") if sample.name.startswith("taskstream_push_")
                       else ("SQL", "statements"))
                if sample.name.endswith("_bucket"):
                    buckets[key][float(sample.labels["le"])] = sample.value
                elif sample.name.endswith("_sum"):
                    sums[key] = sample.value
    return {"pool": pool, "gauges": gauges, "buckets": buckets, "sums": sums}


def bucket_bound(buckets: dict[float, float], q: float) -> float:
    """The upper bound (ms) of the cumulative histogram bucket holding quantile `q`."""
    count = buckets[float("inf")]
    return next(le for le in sorted(buckets) if buckets[le] >= q * count) * 1000


def server_latency(before: list[dict], after: list[dict]) -> dict[str, dict[str, float]]:
    """Per server route (and for SQL statements and pushes), over all workers: requests, mean and the bucket bounds
    holding p50/p99 (ms)."""
    merged: dict[tuple[str, str], dict[float, float]] = defaultdict(lambda: defaultdict(float))
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for start, end in zip(before, after):
        for key, bounds in end["buckets"].items():
            for le, value in bounds.items():
                merged[key][le] += value - start["buckets"].get(key, {}).get(le, 0.0)
            sums[key] += end["sums"].get(key, 0.0) - start["sums"].get(key, 0.0)
    result = {}
    for (method, route), bounds in sorted(merged.items()):
        count = bounds.get(float("inf"), 0.0)
        if count <= 0 or route in ("/ws", "/metrics"):
            continue

        result[f"{method} {route}"] = {"requests": int(count), "mean_ms": round(sums[(method, route)] / count * 1000, 1),
                                       "p50_le_ms": bucket_bound(bounds, 0.5), "p99_le_ms": bucket_bound(bounds, 0.99)}
    return result


async def outbox_lag(database_url: str, since: datetime, until: datetime) -> dict[str, Any]:
    """How long the window's events waited in the outbox before the broker confirmed them (the first
    leg of every push), and how many were still unconfirmed."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS events, count(*) FILTER (WHERE published_at IS NULL) AS unpublished, "
            "percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM published_at - created_at)) "
            "AS lag, max(extract(epoch FROM published_at - created_at)) AS max "
            "FROM outbox WHERE created_at >= $1 AND created_at < $2", since, until)
    finally:
        await conn.close()
    lag = row["lag"] or [float("nan")] * 2
    return {"events": row["events"], "unpublished_after_settle": row["unpublished"],
            "p50_ms": ms(float(lag[0])), "p99_ms": ms(float(lag[1])), "max_ms": ms(float(row["max"] or "nan"))}


# The users ---------------------------------------------------------------------------------------


class User:
    """One person: a token, the tasks they know (id -> version, completed), a socket per device and a habit."""

    def __init__(self, index: int, seed: int, phase: str) -> None:
        self.user_id = f"load-{phase}-{index}"
        self.token = make_token(self.user_id, ttl=6 * 3600)
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.rng = random.Random(seed * 1_000_003 + index)
        self.tasks: dict[str, dict[str, Any]] = {}
        #: The device they write from first, then their other one (if they have one and it connected).
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.devices = 1


class Load:
    """Drives the users of one phase against the workers."""

    def __init__(self, http: aiohttp.ClientSession, workers: list[Worker], args: argparse.Namespace,
                 recorder: Recorder) -> None:
        self.http, self.workers, self.args, self.recorder = http, workers, args, recorder
        self.turn = 0
        self.stopping = False

    def base(self) -> str:
        self.turn += 1
        return self.workers[self.turn % len(self.workers)].url

    async def call(self, user: User, route: str, method: str, path: str, *, body: Any = None,
                   params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Any:
        """One request, recorded under `route`; the JSON body of a 2xx answer, else None."""
        started = time.perf_counter()
        try:
            async with self.http.request(method, self.base() + path, json=body, params=params,
                                         headers={**user.headers, **(headers or {})}) as response:
                text = await response.text()
                elapsed = time.perf_counter() - started
                self.recorder.request(route, elapsed, response.status, text)
                if 200 <= response.status < 300:
                    return json.loads(text) if text else {}
                return None
        except TimeoutError:
            self.recorder.request(route, time.perf_counter() - started, None, "timed out")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            self.recorder.request(route, time.perf_counter() - started, None, f"{type(exc).__name__}: {exc}")
        return None

    def remember(self, user: User, task: dict[str, Any] | None, started: float | None = None) -> None:
        if not task:
            return
        known = user.tasks.get(task["id"])
        user.tasks[task["id"]] = {"version": task["version"], "completed": task["completed"]}
        # A change to what the task already was (the same priority again) is no change: no new version, no push.
        changed = known is None or task["version"] > known["version"]
        if started is not None and changed and self.recorder.measuring:
            self.recorder.writes.append((task["id"], task["version"], started, len(user.sockets)))

    def new_task(self, user: User) -> dict[str, Any]:
        rng = user.rng
        task: dict[str, Any] = {"title": f"{rng.choice(TITLES)} #{rng.randrange(10_000)}",
                                "priority": rng.choice(("low", "medium", "high")),
                                "tags": rng.sample(TAGS, rng.randint(0, 2))}
        if rng.random() < 0.6:
            due = datetime.now(UTC) + timedelta(hours=rng.uniform(-48, 24 * 14))
            task["due_date"] = due.astimezone(UTC).isoformat()
        return task

    # Actions -------------------------------------------------------------------------------------

    async def act(self, user: User) -> None:
        rng = user.rng
        roll = rng.random()
        if not user.tasks:
            roll = 0.70  # nothing to read or change yet: create
        if roll < 0.55:
            if rng.random() < 1 / 3:
                await self.call(user, "GET /api/tasks (filter/sort)", "GET", "/api/tasks",
                                params=rng.choice(LIST_VARIANTS))
            else:
                await self.call(user, "GET /api/tasks", "GET", "/api/tasks")
        elif roll < 0.70:
            task_id = rng.choice(list(user.tasks))
            self.remember(user, await self.call(user, "GET /api/tasks/{id}", "GET", f"/api/tasks/{task_id}"))
        elif roll < 0.85:
            started = time.perf_counter()
            self.remember(user, await self.call(user, "POST /api/tasks", "POST", "/api/tasks",
                                                body=self.new_task(user)), started)
        elif roll < 0.95:
            task_id = rng.choice(list(user.tasks))
            known = user.tasks[task_id]
            started = time.perf_counter()
            if rng.random() < 0.5:
                change = rng.choice((
                    {"title": f"{rng.choice(TITLES)} (edited {rng.randrange(1000)})"},
                    {"priority": rng.choice(("low", "medium", "high"))},
                    {"due_date": (datetime.now(UTC) + timedelta(days=rng.randint(1, 10))).isoformat()},
                    {"description": f"notes {rng.randrange(10**6)}"},
                ))
                task = await self.call(user, "PATCH /api/tasks/{id}", "PATCH", f"/api/tasks/{task_id}",
                                       body=change, headers={"If-Match": f'"{known["version"]}"'})
            else:
                verb = "uncomplete" if known["completed"] else "complete"
                task = await self.call(user, f"POST /api/tasks/{{id}}/{verb}", "POST", f"/api/tasks/{task_id}/{verb}")
            self.remember(user, task, started)
        else:
            await self.call(user, "GET /api/tasks?search=", "GET", "/api/tasks", params={"search": rng.choice(SEARCHES)})

    async def live(self, user: User, deadline: float) -> None:
        while True:
            think = user.rng.uniform(self.args.think_min, self.args.think_max)
            if time.perf_counter() + think >= deadline:
                return  # the next action would fall after the window
            await asyncio.sleep(think)
            await self.act(user)

    # Set-up --------------------------------------------------------------------------------------

    async def seed(self, users: list[User], count: int) -> int:
        """Create `count` tasks per user before the window; return how many failed."""
        limit = asyncio.Semaphore(32)
        failed = 0

        async def one(user: User) -> None:
            nonlocal failed
            async with limit:
                task = await self.call(user, "seed", "POST", "/api/tasks", body=self.new_task(user))
            if task is None:
                failed += 1
            self.remember(user, task)

        self.recorder.measuring = True  # seeding failures are shown, but the phase's routes are reset after
        await asyncio.gather(*(one(user) for user in users for _ in range(count)))
        self.recorder.measuring = False
        return failed

    async def connect(self, users: list[User]) -> list[float]:
        """Open every user's sockets (bounded concurrency): the first device's on the workers in turn, the
        other device's on the next worker; return the connect times of those that opened."""
        limit = asyncio.Semaphore(50)
        times: list[float] = []

        async def one(index: int, user: User, device: int) -> None:
            url = self.workers[(index + device) % len(self.workers)].url.replace("http://", "ws://") + "/ws"
            async with limit:
                started = time.perf_counter()
                try:
                    socket = await self.http.ws_connect(url, params={"token": user.token})
                    ready = await socket.receive(timeout=self.args.timeout)
                    if ready.type != aiohttp.WSMsgType.TEXT or json.loads(ready.data).get("type") != "ready":
                        await socket.close()
                        raise RuntimeError(f"first message was {ready.type.name} {str(ready.data)[:100]}")
                except (TimeoutError, aiohttp.ClientError, OSError, RuntimeError, ValueError) as exc:
                    self.recorder.ws_error("connect failed", f"{user.user_id}: {type(exc).__name__}: {exc}")
                    return
                times.append(time.perf_counter() - started)
                sockets[(user, device)] = socket

        sockets: dict[tuple[User, int], aiohttp.ClientWebSocketResponse] = {}
        await asyncio.gather(*(one(i, user, device) for i, user in enumerate(users) for device in range(user.devices)))
        for user in users:
            # A user whose first device failed to connect writes from the other one.
            user.sockets = [sockets[(user, d)] for d in range(user.devices) if (user, d) in sockets]
        return times

    async def listen(self, user: User, device: int) -> None:
        socket = user.sockets[device]
        async for message in socket:
            if message.type == aiohttp.WSMsgType.TEXT and not self.stopping:
                arrived = time.perf_counter()
                update = json.loads(message.data)
                self.recorder.ws_messages[update.get("type", "?")] += 1
                task = update.get("task") or {}
                if "version" in task:
                    self.recorder.arrivals.setdefault((update.get("task_id"), task["version"], device), arrived)
            elif message.type == aiohttp.WSMsgType.ERROR:
                self.recorder.ws_error("error", f"{user.user_id}: {socket.exception()}")
        if not self.stopping:
            self.recorder.ws_error("closed unexpectedly", f"{user.user_id}: close code {socket.close_code}")


# A phase -----------------------------------------------------------------------------------------


async def sample_while(running: asyncio.Event, http: aiohttp.ClientSession, workers: list[Worker],
                       lags: list[float], pool_peaks: list[float], gauge_peaks: dict[str, float]) -> None:
    """Every ~second: the load generator's event-loop lag (50 ms sleeps), each worker's pool in use
    and the peaks of the outbox and consumer-lag gauges."""
    next_scrape = time.perf_counter()
    # The outbox and lag gauges are set every 5 s: the first values may still describe the seeding.
    gauges_from = next_scrape + 6.0
    while not running.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append(time.perf_counter() - started - 0.05)
        if time.perf_counter() >= next_scrape:
            next_scrape += 1.0
            for i, worker in enumerate(workers):
                try:
                    scraped = await scrape(http, worker)
                    pool_peaks[i] = max(pool_peaks[i], scraped["pool"].get("checked_out", 0.0))
                    for name, value in scraped["gauges"].items():
                        if time.perf_counter() >= gauges_from:
                            gauge_peaks[name] = max(gauge_peaks.get(name, 0.0), value)
                except (TimeoutError, aiohttp.ClientError):
                    pass  # a missed sample; the request errors show the real trouble


async def drive(workers: list[Worker], meters: dict[str, ProcessMeter], database_url: str,
                args: argparse.Namespace, phase: str) -> dict[str, Any]:
    recorder = Recorder()
    users = [User(i, args.seed, phase) for i in range(args.users)]
    # Spread evenly over the users.
    with_other = round(args.users * args.other_devices)
    for k in range(with_other):
        users[k * args.users // with_other].devices = 2
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    memory: dict[str, dict[str, float]] = defaultdict(dict)

    def measure_memory(moment: str) -> None:
        for name, meter in meters.items():
            memory[name][moment] = round(meter.memory_mib(), 1)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        load = Load(http, workers, args, recorder)
        measure_memory("start")
        seeded_at = time.perf_counter()
        seed_failures = await load.seed(users, args.seed_tasks)
        seed_seconds = time.perf_counter() - seeded_at
        recorder.routes.clear()
        connect_times = await load.connect(users)
        listeners = [asyncio.ensure_future(load.listen(u, d)) for u in users for d in range(len(u.sockets))]
        await asyncio.sleep(2)  # the connects' replays and the seeds' pushes settle
        measure_memory("sockets open")
        recorder.ws_messages.clear()

        before = [await scrape(http, w) for w in workers]
        cpu_before = {name: meter.cpu_seconds() for name, meter in meters.items()}
        wait_before = {name: meter.cpu_waits() for name, meter in meters.items()}
        window_from = datetime.now(UTC)
        busy_before = machine_busy_seconds()
        load_before = os.getloadavg()
        lags: list[float] = []
        pool_peaks = [0.0] * len(workers)
        gauge_peaks: dict[str, float] = {}
        finished = asyncio.Event()
        sampler = asyncio.ensure_future(sample_while(finished, http, workers, lags, pool_peaks, gauge_peaks))

        recorder.measuring = True
        started = time.perf_counter()
        deadline = started + args.seconds
        await asyncio.gather(*(load.live(u, deadline) for u in users))
        elapsed = time.perf_counter() - started  # the window plus the requests still in flight at its end
        recorder.measuring = False
        finished.set()
        await sampler

        cpu_after = {name: meter.cpu_seconds() for name, meter in meters.items()}
        wait_after = {name: meter.cpu_waits() for name, meter in meters.items()}
        window_to = datetime.now(UTC)
        busy_after = machine_busy_seconds()
        load_after = os.getloadavg()
        after = [await scrape(http, w) for w in workers]
        measure_memory("end")

        settle = time.perf_counter() + PUSH_SETTLE_S
        while time.perf_counter() < settle and not recorder.settled():
            await asyncio.sleep(0.2)
        outbox = await outbox_lag(database_url, window_from, window_to)
        load.stopping = True
        await asyncio.gather(*(s.close() for u in users for s in u.sockets), return_exceptions=True)
        await asyncio.gather(*listeners, return_exceptions=True)

    all_latencies = [x for route in recorder.routes.values() for x in route.latencies]
    requests = len(all_latencies)
    errors = sum(route.errors for route in recorder.routes.values())
    window_cpu = {name: round((cpu_after[name] - cpu_before[name]) / elapsed * 100, 1) for name in meters}
    window_wait = {name: round(waited(wait_before[name], wait_after[name]) / elapsed * 100, 1) for name in meters}
    machine_cpu = (busy_after - busy_before) / elapsed * 100
    return {
        "workers": len(workers),
        "users": args.users,
        "seconds": round(elapsed, 1),
        "seeded_tasks": args.users * args.seed_tasks - seed_failures,
        "seed_failures": seed_failures,
        "seed_rate_per_s": round(args.users * args.seed_tasks / seed_seconds, 1),
        "requests": requests,
        "offered_per_s": round(args.users / ((args.think_min + args.think_max) / 2), 1),
        "requests_per_s": round(requests / elapsed, 1),
        "errors": errors,
        "latency_ms": {"p50": ms(percentile(all_latencies, 50)), "p99": ms(percentile(all_latencies, 99)),
                       "max": ms(max(all_latencies, default=float("nan")))},
        "routes": {
            name: {"requests": len(r.latencies), "errors": r.errors, "p50_ms": ms(percentile(r.latencies, 50)),
                   "p99_ms": ms(percentile(r.latencies, 99)), "max_ms": ms(max(r.latencies)),
                   "statuses": {str(k): v for k, v in sorted(r.statuses.items(), key=str)}}
            for name, r in sorted(recorder.routes.items())
        },
        "server_routes": server_latency(before, after),
        "websocket": {
            "sockets": sum(u.devices for u in users),
            "users_with_another_device": with_other,
            "connected": len(connect_times),
            "connect_ms": {"p50": ms(percentile(connect_times, 50)), "p99": ms(percentile(connect_times, 99))},
            "messages": dict(recorder.ws_messages),
            "errors": dict(recorder.ws_errors),
            # write sent -> its update on the socket of the device that wrote it, and on the user's other device
            "push_to_own_socket": recorder.pushes(0),
            "push_to_other_device": recorder.pushes(1),
        },
        "memory_mib": dict(memory),
        "cpu_percent_of_one_core": {**window_cpu, "machine (all processes)": round(machine_cpu, 1),
                                    "other processes": round(machine_cpu - sum(window_cpu.values()), 1)},
        "waiting_for_cpu_percent": window_wait,
        "db_pool_checked_out_peak": pool_peaks,
        "gauge_peaks": gauge_peaks,
        "outbox_publish_lag": outbox,
        "load_generator_loop_lag_ms": {"p50": ms(percentile(lags, 50)), "p99": ms(percentile(lags, 99)),
                                       "max": ms(max(lags, default=float("nan")))},
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
        "error_samples": recorder.samples,
    }


def run_phase(count: int, args: argparse.Namespace) -> dict[str, Any]:
    """A fresh PostgreSQL and broker, `count` workers on them, the load, and everything stopped again."""
    env = {"RATE_LIMIT": "off", "LOG_LEVEL": args.log_level, "KAFKA_PROFILE": args.profile}
    if args.pool_size:
        env["DATABASE_POOL_SIZE"] = str(args.pool_size)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        tmp_path = Path(tmp)
        pg = EmbeddedPostgres(tmp_path / "pg").start()
        broker: EmbeddedBroker | None = None
        workers: list[Worker] = []
        try:
            migrate.upgrade(pg.url)
            broker = start_broker(tmp_path)
            for i in range(count):
                # Each its own data folder: a worker's local table state is its own, as in separate pods.
                workers.append(Worker(database_url=pg.url, broker_url=broker.url, data_dir=tmp_path / f"worker-{i}",
                                      extra_env=env))
                workers[-1].start(timeout=120)
            meters = {f"worker {i + 1}": ProcessMeter(w.process.pid) for i, w in enumerate(workers)}
            meters["PostgreSQL"] = ProcessMeter(postmaster_pid(pg), tree=True)
            meters["broker"] = ProcessMeter(broker.process.pid)
            meters["load generator"] = ProcessMeter(os.getpid())
            result = asyncio.run(drive(workers, meters, pg.url, args, phase=f"w{count}"))
            for worker in workers:
                if worker.process.poll() is not None:
                    result.setdefault("error_samples", []).append(
                        f"worker on port {worker.port} exited with {worker.process.returncode}:\n{worker.log_tail(20)}")
            return result
        finally:
            for worker in workers:
                worker.stop()
            if broker is not None:
                broker.stop()
            pg.stop()


# Output ------------------------------------------------------------------------------------------


def print_phase(r: dict[str, Any]) -> None:
    verdict = "meets" if r["errors"] == 0 and r["latency_ms"]["p99"] <= TARGET_P99_MS and not r["websocket"]["errors"] \
        else "MISSES"
    print(f"\n== {r['workers']} worker(s): {r['users']} users (offering about {r['offered_per_s']:.0f} req/s), "
          f"{r['websocket']['connected']} sockets, {r['seconds']:.0f} s; {r['seeded_tasks']} tasks seeded at "
          f"{r['seed_rate_per_s']:.0f}/s ==")
    print(f"{'route':<34}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, route in r["routes"].items():
        print(f"{name:<34}{route['requests']:>9}{route['errors']:>8}{route['p50_ms']:>9.1f}{route['p99_ms']:>9.1f}"
              f"{route['max_ms']:>9.1f}")
    lat = r["latency_ms"]
    print(f"{'all (' + format(r['requests_per_s'], '.0f') + ' req/s)':<34}{r['requests']:>9}{r['errors']:>8}"
          f"{lat['p50']:>9.1f}{lat['p99']:>9.1f}{lat['max']:>9.1f}   {verdict} the target (0 errors, p99 ≤ "
          f"{TARGET_P99_MS:.0f} ms)")
    print("server-side (the workers' histograms; p50/p99 are bucket bounds):")
    for name, route in r["server_routes"].items():
        print(f"  {name:<40}{route['requests']:>7} timed, mean {route['mean_ms']:>6.1f} ms, "
              f"p50 ≤ {route['p50_le_ms']:g} ms, p99 ≤ {route['p99_le_ms']:g} ms")
    ws = r["websocket"]
    print(f"WebSocket: {ws['connected']}/{ws['sockets']} connected ({ws['users_with_another_device']} users with "
          f"another device; p50 {ws['connect_ms']['p50']} ms, p99 {ws['connect_ms']['p99']} ms); "
          f"{sum(ws['messages'].values())} messages in the window; errors {ws['errors'] or 0}")
    for label, key in (("own socket", "push_to_own_socket"), ("other device", "push_to_other_device")):
        push = ws[key]
        print(f"  push of a write to the {label + ':':<14}{push['arrived']:>6}/{push['writes']:<6} arrived, "
              f"p50 {push['p50_ms']} ms, p99 {push['p99_ms']} ms, max {push['max_ms']} ms")
    print("memory MiB (RSS; PostgreSQL: PSS of all its processes):  " + "; ".join(
        f"{name} {' → '.join(str(v) for v in moments.values())}" for name, moments in r["memory_mib"].items()))
    print("CPU % of one core in the window:  " + "; ".join(
        f"{name} {value}" for name, value in r["cpu_percent_of_one_core"].items()))
    print("waiting for a CPU, % of the window:  " + "; ".join(
        f"{name} {value}" for name, value in r["waiting_for_cpu_percent"].items()))
    outbox = r["outbox_publish_lag"]
    print(f"outbox → broker: {outbox['events']} events, lag p50 {outbox['p50_ms']} ms, p99 {outbox['p99_ms']} ms, "
          f"max {outbox['max_ms']} ms, {outbox['unpublished_after_settle']} unconfirmed after the settle; gauge peaks "
          + ", ".join(f"{name} {value:g}" for name, value in sorted(r["gauge_peaks"].items())))
    lag = r["load_generator_loop_lag_ms"]
    print(f"DB pool checked out, peak per worker: {r['db_pool_checked_out_peak']}; load generator loop lag "
          f"p50 {lag['p50']} ms, p99 {lag['p99']} ms, max {lag['max']} ms; load average "
          f"{r['load_average']['before']} → {r['load_average']['after']}")
    for sample in r["error_samples"]:
        print(f"  ! {sample}")


def without_nan(value: Any) -> Any:
    """`value` with every NaN (a percentile of nothing) as null and every infinity (a quantile beyond a
    histogram's last bucket) as "inf", so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, dict):
        return {key: without_nan(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nan(item) for item in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", default="1,2", help="worker counts of the phases, comma-separated")
    parser.add_argument("--think-min", type=float, default=1.0)
    parser.add_argument("--think-max", type=float, default=5.0)
    parser.add_argument("--seed-tasks", type=int, default=5, help="tasks created per user before the window")
    parser.add_argument("--other-devices", type=float, default=0.1, help="share of the users with a second "
                        "device (a second socket, on the next worker), whose push latency is reported too")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a request counts as timed out")
    parser.add_argument("--seed", type=int, default=1, help="seed of the users' random choices")
    parser.add_argument("--pool-size", type=int, default=None, help="DATABASE_POOL_SIZE of the workers "
                        "(default: the application's)")
    parser.add_argument("--profile", choices=("embedded", "kafka"), default="embedded",
                        help="KAFKA_PROFILE of the workers: embedded (one record per produce batch, as in the "
                        "tests) or kafka (Faust's defaults: batched produce, 30 s to join the group)")
    parser.add_argument("--log-level", default="info", help="LOG_LEVEL of the workers (info, the default, "
                        "writes an access log line per request, as in production)")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    measured_at = datetime.now(UTC).isoformat()
    phases = []
    for count in counts:
        phases.append(run_phase(count, args))
        print_phase(phases[-1])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(without_nan({
        "benchmark": "load",
        "measured_at": measured_at,
        "settings": {key: value for key, value in vars(args).items()},
        "target": {"errors": 0, "p99_ms": TARGET_P99_MS},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                    "note": "the load generator (one Python process) shares the machine's cores with the "
                            "workers, PostgreSQL and the broker, and with whatever else runs there (other "
                            "sessions' tests): see each phase's load_average (which includes the benchmark "
                            "itself) and cpu_percent_of_one_core['other processes']"},
        "phases": phases,
    }), indent=2, allow_nan=False) + "\n")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
