"""Benchmark: how late reminders fire (sent_at - remind_at), with zero missed and zero duplicates.

Two scenarios on an embedded PostgreSQL and broker of the benchmark's own:
  spread  - N reminders spread evenly over 60 s;
  burst   - N reminders due in the same second.
Each reminder belongs to its own user, so batching cannot hide the work: one notification each.
The reminders are written to PostgreSQL first and a worker is started afterwards, so they reach the
schedule table through the worker's rebuild from PostgreSQL (the API path puts them there one
`reminder-schedule` message at a time); the first is due LEAD seconds after loading.

Run: .venv/bin/python tests/bench/bench_reminders.py [--reminders 10000] [--spread 60]
Prints a table and writes tests/bench/results/reminders.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from stack import Worker, start_broker

from db import migrate
from streams.cli.embedded import EmbeddedPostgres

RESULTS = ROOT / "tests" / "bench" / "results" / "reminders.json"
#: Seconds between loading the reminders and the first one being due (the worker starts meanwhile);
#: --lead overrides it (the kafka profile's group join alone takes about 30 s).
LEAD = 20.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def load(conn, name: str, count: int, spread: float) -> tuple[list[uuid.UUID], datetime]:
    """Insert `count` tasks and reminders (one user each) due from now+LEAD over `spread` seconds."""
    start = datetime.now(UTC) + timedelta(seconds=LEAD)
    tasks, reminders = [], []
    for n in range(count):
        user = f"bench-{name}-{n}"
        task_id, reminder_id = uuid.uuid4(), uuid.uuid4()
        at = start + timedelta(seconds=spread * n / count)
        tasks.append((task_id, user, f"{name} task {n}", at + timedelta(hours=1)))
        reminders.append((reminder_id, user, task_id, at))
    await conn.copy_records_to_table("tasks", records=tasks, columns=["id", "user_id", "title", "due_date"])
    await conn.copy_records_to_table("reminders", records=reminders,
                                     columns=["id", "user_id", "task_id", "remind_at"])
    return [r[0] for r in reminders], start


async def measure(conn, name: str, count: int, spread: float, timeout: float, profile: str, start_worker) -> dict:
    ids, _ = await load(conn, name, count, spread)
    worker = await asyncio.to_thread(start_worker)
    try:
        return await _measure(conn, name, ids, count, spread, timeout, profile)
    finally:
        worker.stop()


async def _measure(conn, name: str, ids, count: int, spread: float, timeout: float, profile: str) -> dict:
    deadline = time.monotonic() + LEAD + spread + timeout
    while time.monotonic() < deadline:
        unsent = await conn.fetchval("SELECT count(*) FROM reminders WHERE id = ANY($1) AND NOT sent", ids)
        if unsent == 0:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)  # time for a duplicate to show up, if there were going to be one
    rows = await conn.fetch(
        "SELECT extract(epoch FROM sent_at - remind_at) AS late FROM reminders WHERE id = ANY($1) AND sent", ids)
    covered = await conn.fetch(
        "SELECT r.id, count(n.id) AS n FROM reminders r "
        "LEFT JOIN notifications n ON n.data->'reminder_ids' ? r.id::text WHERE r.id = ANY($1) GROUP BY r.id", ids)
    lateness = [float(row["late"]) for row in rows]
    return {
        "scenario": name, "profile": profile, "reminders": count, "spread_s": spread,
        "sent": len(lateness),
        "missed": count - len(lateness),
        "duplicates": sum(max(0, row["n"] - 1) for row in covered),
        "p50_ms": round(percentile(lateness, 50) * 1000, 1) if lateness else None,
        "p99_ms": round(percentile(lateness, 99) * 1000, 1) if lateness else None,
        "max_ms": round(max(lateness) * 1000, 1) if lateness else None,
    }


async def run(args) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-reminders-") as tmp:
        tmp_path = Path(tmp)
        pg = EmbeddedPostgres(tmp_path / "pg").start()
        broker = None
        try:
            await asyncio.to_thread(migrate.upgrade, pg.url)  # Alembic's env.py runs its own event loop
            broker = start_broker(tmp_path)

            def start_worker() -> Worker:
                return Worker(database_url=pg.url, broker_url=broker.url, data_dir=tmp_path / "worker",
                              extra_env={"KAFKA_PROFILE": args.profile, "RATE_LIMIT": "off"}).start(timeout=120)

            conn = await asyncpg.connect(pg.url.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                results = [
                    await measure(conn, "spread", args.reminders, args.spread, timeout=120, profile=args.profile,
                                  start_worker=start_worker),
                    await measure(conn, "burst", args.reminders, 1.0, timeout=180, profile=args.profile,
                                  start_worker=start_worker),
                ]
            finally:
                await conn.close()
        finally:
            if broker is not None:
                broker.stop()
            pg.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=60.0)
    parser.add_argument("--lead", type=float, default=None, help="seconds from loading to the first reminder "
                        "(default 20; 60 with --profile kafka)")
    parser.add_argument("--profile", choices=("embedded", "kafka"), default="embedded",
                        help="KAFKA_PROFILE of the worker: embedded (one record per producer batch, as in "
                        "the tests) or kafka (Faust's defaults: batched produce, 30 s to join the group)")
    args = parser.parse_args()
    global LEAD
    LEAD = args.lead if args.lead is not None else (60.0 if args.profile == "kafka" else LEAD)
    results = asyncio.run(run(args))
    print(f"{'scenario':<8} {'reminders':>9} {'sent':>6} {'missed':>6} {'dupes':>5} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}")
    for r in results:
        print(f"{r['scenario']:<8} {r['reminders']:>9} {r['sent']:>6} {r['missed']:>6} {r['duplicates']:>5} "
              f"{r['p50_ms']!s:>8} {r['p99_ms']!s:>8} {r['max_ms']!s:>8}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "reminders",
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "shared 2-core machine; other sessions were running tests at the same time"},
        "results": results,
    }, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
