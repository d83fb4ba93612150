"""Benchmark: how late reminders reach the user (pushed - remind_at), with zero missed and zero duplicates.

Two scenarios on an embedded PostgreSQL and broker of the benchmark's own:
  spread  - N reminders spread evenly over 60 s;
  burst   - N reminders due in the same second.
Each reminder belongs to its own user, so batching cannot hide the work: one notification each.
The reminders are written to PostgreSQL first and a worker is started afterwards, so they reach the
schedule table through the worker's rebuild from PostgreSQL (the API path puts them there one
`reminder-schedule` message at a time); the first is due LEAD seconds after loading.

"Pushed" is the timestamp of the `notification.created` record the notifier produced to `task-updates`
after committing the notification (what every open socket of the user receives). The reminders table's
`sent_at` is not that: it is the clock when the notifier's SELECT of due reminders began, before the
notification was written, committed and pushed; it is kept as "picked" for comparison. Duplicates are
pushes of the same notification more than once (a producer retry or a replayed delivery could cause
them); notifications themselves cannot repeat (UNIQUE reminder_id).

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


async def measure(conn, name: str, count: int, spread: float, timeout: float, profile: str, start_worker,
                  broker_url: str) -> dict:
    ids, _ = await load(conn, name, count, spread)
    worker = await asyncio.to_thread(start_worker)
    try:
        return await _measure(conn, name, ids, count, spread, timeout, profile, broker_url)
    finally:
        worker.stop()


async def _measure(conn, name: str, ids, count: int, spread: float, timeout: float, profile: str,
                   broker_url: str) -> dict:
    deadline = time.monotonic() + LEAD + spread + timeout
    while time.monotonic() < deadline:
        unsent = await conn.fetchval("SELECT count(*) FROM reminders WHERE id = ANY($1) AND NOT sent", ids)
        if unsent == 0:
            break
        await asyncio.sleep(0.5)
    rows = await conn.fetch(
        "SELECT id, remind_at, extract(epoch FROM sent_at - remind_at) AS picked_late FROM reminders "
        "WHERE id = ANY($1) AND sent", ids)
    remind_at = {str(row["id"]): row["remind_at"].timestamp() for row in rows}
    picked = [float(row["picked_late"]) for row in rows]
    # Time for a duplicate push to show up, if there were going to be one.
    pushes = await read_pushes(broker_url, set(remind_at), settle=2.0, timeout=60)
    pushed = [min(pushes[r]) - remind_at[r] for r in remind_at if pushes.get(r)]

    def ms(values: list[float], q: float | None) -> float | None:
        if not values:
            return None
        return round((max(values) if q is None else percentile(values, q)) * 1000, 1)

    return {
        "scenario": name, "profile": profile, "reminders": count, "spread_s": spread,
        "sent": len(rows),
        "missed": count - len(rows),
        "pushed": len(pushed),
        "not_pushed": len(rows) - len(pushed),
        "duplicate_pushes": sum(max(0, len(times) - 1) for times in pushes.values()),
        "p50_ms": ms(pushed, 50), "p99_ms": ms(pushed, 99), "max_ms": ms(pushed, None),
        "picked_p50_ms": ms(picked, 50), "picked_p99_ms": ms(picked, 99),
    }


async def read_pushes(broker_url: str, reminder_ids: set[str], *, settle: float, timeout: float
                      ) -> dict[str, list[float]]:
    """{reminder id: [epoch seconds of each notification.created push naming it]} from task-updates,
    read from the beginning until every reminder was pushed and `settle` more seconds passed."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.kafka import bootstrap_servers
    from streams.topics import TASK_UPDATES

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker_url), enable_auto_commit=False)
    await consumer.start()
    pushes: dict[str, list[float]] = {}
    try:
        partitions = consumer.partitions_for_topic(TASK_UPDATES) or set()
        if not partitions:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(TASK_UPDATES) or set()
        assigned = [TopicPartition(TASK_UPDATES, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        deadline, settled = time.monotonic() + timeout, None
        while time.monotonic() < deadline and (settled is None or time.monotonic() < settled):
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                for message in messages:
                    update = json.loads(message.value)
                    if update.get("type") != "notification.created":
                        continue
                    notification = update["notification"]
                    named = set(notification["data"].get("reminder_ids") or [notification["reminder_id"]])
                    for reminder_id in named & reminder_ids:
                        pushes.setdefault(reminder_id, []).append(message.timestamp / 1000)
            if settled is None and len(pushes) == len(reminder_ids):
                settled = time.monotonic() + settle
        return pushes
    finally:
        await consumer.stop()


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
                                  start_worker=start_worker, broker_url=broker.url),
                    await measure(conn, "burst", args.reminders, 1.0, timeout=180, profile=args.profile,
                                  start_worker=start_worker, broker_url=broker.url),
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
    print("lateness = pushed - remind_at; picked = when the notifier's SELECT began (the sent_at column)")
    print(f"{'scenario':<8} {'reminders':>9} {'sent':>6} {'missed':>6} {'unpushed':>8} {'dup pushes':>10} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'picked p99':>10}")
    for r in results:
        print(f"{r['scenario']:<8} {r['reminders']:>9} {r['sent']:>6} {r['missed']:>6} {r['not_pushed']:>8} "
              f"{r['duplicate_pushes']:>10} {r['p50_ms']!s:>8} {r['p99_ms']!s:>8} {r['max_ms']!s:>8} "
              f"{r['picked_p99_ms']!s:>10}")
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
