"""Benchmark: recurring tasks on one worker — completion-to-next-occurrence latency and occurrence throughput.

Run: .venv/bin/python tests/bench/bench_recurrence.py [--runs 1] [--latency 500] [--users 1000] [--templates 10]
Prints a table and writes tests/bench/results/recurrence.json. Starts its own embedded PostgreSQL,
broker and one `taskstream worker` (as the integration tests do) and stops them at the end.

latency     POST /api/tasks/{id}/complete answers -> the next occurrence is listed by
            GET /api/recurring-tasks/{id}/occurrences (polled every 2 ms), one completion at a time.
throughput  users x templates open occurrences are completed in the database through db.tasks.modify_task
            (the write path of POST .../complete: task row, audit row, outbox row); their events are then
            published to task-events at once, as the outbox relay would, and the worker's rate of new
            occurrence rows is sampled every 100 ms. The bench marks those outbox rows published itself,
            so the worker's relay does not send them a second time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from stack import Api, Worker, start_broker

from db import migrate
from streams.cli.embedded import EmbeddedPostgres

#: --isolate: a worker whose only task-events agent is expand_recurrences (the others are unregistered
#: before it starts), to show what the recurrence path itself sustains inside a real worker.
ISOLATED_WORKER = """
import importlib, pkgutil
import agents
from streams.app import app, main
for module in pkgutil.iter_modules(agents.__path__):
    importlib.import_module(f"agents.{module.name}")
for name, agent in list(app.agents.items()):
    if name != "agents.recurrence.expand_recurrences" and "task-events" in agent.channel.topics:
        del app.agents[name]
main()
"""


class IsolatedWorker(Worker):
    def start(self, timeout: float = 60) -> IsolatedWorker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", ISOLATED_WORKER, "worker", "-l", "info"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self.wait_ready(timeout)
        return self


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def start_date() -> str:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    return start.isoformat()


async def measure_latency(worker: Worker, completions: int) -> list[float]:
    """Seconds from each completion's response to its next occurrence being listed."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        api = Api(http, worker.url, f"bench-latency-{uuid.uuid4().hex[:8]}")
        status, template, _ = await api.call("POST", "/api/recurring-tasks", json_body={
            "title": "latency probe", "frequency": "DAILY", "start_date": start_date()})
        assert status == 201, template
        path = f"/api/recurring-tasks/{template['id']}/occurrences"
        _, body, _ = await api.call("GET", path, params={"upcoming": "0", "past": "1"})
        head = body["past"][0]
        for _ in range(completions):
            status, done, _ = await api.call("POST", f"/api/tasks/{head['task_id']}/complete")
            assert status == 200, done
            started = time.perf_counter()
            while True:
                _, body, _ = await api.call("GET", path, params={"upcoming": "0", "past": "1"})
                if body["past"][0]["task_id"] != head["task_id"]:
                    latencies.append(time.perf_counter() - started)
                    head = body["past"][0]
                    break
                if time.perf_counter() - started > 30:
                    raise TimeoutError(f"no next occurrence 30 s after completing task {head['task_id']}")
                await asyncio.sleep(0.002)
    return latencies


async def prepare_templates(database_url: str, users: int, per_user: int) -> None:
    """users x per_user templates, each with its open first occurrence, through db.recurring."""
    from sqlalchemy import text

    from db.engine import Database
    from db.recurring import create_template
    from streams.rules.recurrence import parse_rule

    rule = parse_rule({"frequency": "DAILY", "start_date": start_date()})
    database = Database(database_url, pool_size=4)
    now = datetime.now(UTC)
    try:
        async def one_user(n: int) -> None:
            async with database.transaction() as session:
                for i in range(per_user):
                    await create_template(session, f"bench-{n:05d}", {"title": f"chore {i}"}, rule, now=now)
                # Set-up data: its created events are not part of the measurement.
                await session.execute(text("UPDATE outbox SET published_at = now() WHERE published_at IS NULL "
                                           "AND key = :user"), {"user": f"bench-{n:05d}"})

        for start in range(0, users, 8):
            await asyncio.gather(*(one_user(n) for n in range(start, min(start + 8, users))))
    finally:
        await database.dispose()


async def complete_all(database_url: str) -> list:
    """Complete every open occurrence through db.tasks.modify_task; return the committed events."""
    from sqlalchemy import select, update

    from db.engine import Database
    from db.models import OutboxMessage, Task
    from db.tasks import modify_task

    database = Database(database_url, pool_size=4)
    now = datetime.now(UTC)
    events = []
    try:
        async with database.transaction() as session:
            rows = (await session.execute(
                select(Task.user_id, Task.id).where(Task.user_id.like("bench-0%"), Task.completed.is_(False))
                .order_by(Task.user_id))).all()

        async def chunk(part) -> None:
            async with database.transaction() as session:
                done = []
                for user_id, task_id in part:
                    _, event = await modify_task(session, user_id, task_id, lambda t: {"completed": True}, now=now)
                    done.append(event)
                await session.execute(update(OutboxMessage).where(
                    OutboxMessage.id.in_([e.outbox_id for e in done])).values(published_at=now))
                events.extend(done)

        size = 250
        parts = [rows[i:i + size] for i in range(0, len(rows), size)]
        for i in range(0, len(parts), 4):
            await asyncio.gather(*(chunk(p) for p in parts[i:i + 4]))
    finally:
        await database.dispose()
    return events


async def measure_throughput(database_url: str, broker, users: int, per_user: int, *,
                             profile_pid: int | None = None) -> dict:
    from aiokafka import AIOKafkaProducer

    await prepare_templates(database_url, users, per_user)
    events = await complete_all(database_url)
    profiler = None
    if profile_pid is not None:
        out = ROOT / "tests" / "bench" / "results" / "profile-recurrence.svg"
        profiler = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(profile_pid), "--output", str(out), "--rate", "200"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await asyncio.sleep(1)
    expected = len(events)
    plain = database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain)
    try:
        before = await connection.fetchval("SELECT count(*) FROM recurrence_occurrences")
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5, max_batch_size=1 << 20)
        await producer.start()
        started = time.perf_counter()
        try:
            batch = []
            for event in events:
                batch.append(await producer.send(
                    "task-events", json.dumps(event.payload).encode(), key=event.key.encode(),
                    headers=[("event_type", event.payload["event_type"].encode())]))
            await asyncio.gather(*batch)
        finally:
            await producer.stop()
        published = time.perf_counter() - started
        samples: list[tuple[float, int]] = []
        while True:
            count = await connection.fetchval("SELECT count(*) FROM recurrence_occurrences") - before
            elapsed = time.perf_counter() - started
            samples.append((elapsed, count))
            if count >= expected or elapsed > 300:
                break
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its flame graph on SIGINT
            profiler.wait(60)
    done_at = samples[-1][0]
    created = samples[-1][1]

    def first_time(share: float) -> float:
        return next(t for t, c in samples if c >= share * expected)

    steady = 0.8 * expected / max(first_time(0.9) - first_time(0.1), 1e-9) if created >= expected else 0.0
    return {
        "completions": expected, "created": created, "publish_seconds": published, "seconds": done_at,
        "occurrences_per_s": created / done_at, "steady_occurrences_per_s": steady,
        "samples": samples,
    }


def run_once(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-recurrence-") as tmp:
        tmp_path = Path(tmp)
        pg = EmbeddedPostgres(tmp_path / "pg").start()
        broker = start_broker(tmp_path)
        worker = None
        try:
            migrate.upgrade(pg.url)
            kind = IsolatedWorker if args.isolate else Worker
            worker = kind(database_url=pg.url, broker_url=broker.url, data_dir=tmp_path / "worker").start()
            result: dict = {}
            if args.latency:
                latencies = asyncio.run(measure_latency(worker, args.latency))
                result["latency"] = {"n": len(latencies), "p50_ms": percentile(latencies, 50) * 1000,
                                     "p99_ms": percentile(latencies, 99) * 1000,
                                     "max_ms": max(latencies) * 1000}
            if args.users:
                pid = worker.process.pid if args.profile else None
                result["throughput"] = asyncio.run(
                    measure_throughput(pg.url, broker, args.users, args.templates, profile_pid=pid))
            return result
        finally:
            if worker is not None:
                worker.stop()
            broker.stop()
            pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--latency", type=int, default=500, help="completions timed one at a time (0 skips)")
    parser.add_argument("--users", type=int, default=1000, help="users in the throughput run (0 skips)")
    parser.add_argument("--templates", type=int, default=10, help="templates per user in the throughput run")
    parser.add_argument("--isolate", action="store_true",
                        help="diagnostic: unregister the worker's other task-events agents (not the real system)")
    parser.add_argument("--profile", action="store_true",
                        help="record the worker with py-spy during the throughput run (results/profile-recurrence.svg)")
    args = parser.parse_args()

    runs = [run_once(args) for _ in range(args.runs)]
    summary: dict = {"runs": args.runs}
    if args.latency:
        summary["latency_median_of_runs"] = {
            k: statistics.median(r["latency"][k] for r in runs) for k in ("p50_ms", "p99_ms", "max_ms")}
    if args.users:
        summary["throughput_median_of_runs"] = {
            k: statistics.median(r["throughput"][k] for r in runs)
            for k in ("completions", "seconds", "occurrences_per_s", "steady_occurrences_per_s")}

    print(f"recurring tasks on one worker, median of {args.runs} run(s), {os.cpu_count()} CPUs"
          + (" [--isolate: expand_recurrences is the only task-events agent]" if args.isolate else ""))
    if args.latency:
        lat = summary["latency_median_of_runs"]
        print(f"{'complete -> next occurrence visible':<40}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
        print(f"{f'{args.latency} completions, one at a time':<40}{lat['p50_ms']:>10.1f}{lat['p99_ms']:>10.1f}"
              f"{lat['max_ms']:>10.1f}   (target p99 <= 300)")
    if args.users:
        thr = summary["throughput_median_of_runs"]
        print(f"{'completions -> next occurrences':<40}{'seconds':>10}{'occ/s':>10}{'steady/s':>10}")
        label = f"{int(thr['completions'])} across {args.users} users"
        print(f"{label:<40}{thr['seconds']:>10.2f}{thr['occurrences_per_s']:>10.0f}"
              f"{thr['steady_occurrences_per_s']:>10.0f}   (target >= 1000/s)")
    out = ROOT / "tests" / "bench" / "results" / ("recurrence-isolated.json" if args.isolate else "recurrence.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    for run in runs:  # keep the file readable: the sample series only at 1 s resolution
        if "throughput" in run:
            samples = run["throughput"]["samples"]
            run["throughput"]["samples"] = [s for i, s in enumerate(samples) if i % 10 == 0] + [samples[-1]]
    out.write_text(json.dumps({"runs": runs, "summary": summary, "cpus": os.cpu_count(),
                               "args": vars(args)}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
