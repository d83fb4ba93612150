"""Benchmark: write → push latency on another socket, and memory per idle socket.

Run: .venv/bin/python tests/bench/bench_websocket.py [--users 100] [--sockets-per-user 10] [--rate 200] [--seconds 30]
Starts its own PostgreSQL and broker, and a fresh worker for each run; 1,000 sockets across 100 users listen
while writes arrive at a fixed rate; each write's latency is measured on a socket of the same user (the
writer uses plain HTTP). Memory per socket is the growth of that fresh worker's RSS from just before the
sockets open (after one warm-up socket) to when they are all idle: a worker reused across runs keeps the
memory its allocator got in the first run, so later runs would show about zero.
The worker's own histograms split each latency: POST /api/tasks (the write, up to its response) and
taskstream_push_latency_seconds (the change's commit to each socket write; bucket bounds).
Prints a table and writes tests/bench/results/websocket.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from bench_load import scrape, server_latency  # noqa: E402
from stack import Api, Worker, start_broker  # noqa: E402

from db import migrate  # noqa: E402
from streams.cli.embedded import EmbeddedPostgres  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


async def run(worker: Worker, args: argparse.Namespace) -> dict:
    process = psutil.Process(worker.process.pid)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        users = [Api(http, worker.url, f"ws-bench-{i}") for i in range(args.users)]
        url = worker.url.replace("http://", "ws://") + "/ws"
        await warm_up(http, url, Api(http, worker.url, "ws-bench-warm-up"))
        rss_before = process.memory_info().rss
        sockets: dict[str, list[aiohttp.ClientWebSocketResponse]] = {}
        for user in users:
            sockets[user.user_id] = [await http.ws_connect(url, params={"token": user.token})
                                     for _ in range(args.sockets_per_user)]
            for socket in sockets[user.user_id]:
                assert json.loads((await socket.receive()).data)["type"] == "ready"
        await asyncio.sleep(2)
        rss_idle = process.memory_info().rss
        total_sockets = args.users * args.sockets_per_user

        sent: dict[str, float] = {}
        latencies: list[float] = []
        received = 0

        async def listen(socket: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal received
            async for message in socket:
                update = json.loads(message.data)
                started = sent.get(update.get("task", {}).get("title", ""))
                if started is not None:
                    latencies.append(time.perf_counter() - started)
                    received += 1

        # One measuring socket per user; the others also receive (the fan-out load is real) but are not timed.
        listeners = [asyncio.ensure_future(listen(group[-1])) for group in sockets.values()]
        drains = [asyncio.ensure_future(drain(s)) for group in sockets.values() for s in group[:-1]]

        errors = 0
        interval = 1.0 / args.rate
        deadline = time.perf_counter() + args.seconds
        writes = 0
        pending: list[asyncio.Future] = []

        async def write(user: Api, title: str) -> None:
            nonlocal errors
            sent[title] = time.perf_counter()
            status, _, _ = await user.call("POST", "/api/tasks", json_body={"title": title})
            if status != 201:
                errors += 1

        metrics_before = await scrape(http, worker)
        next_at = time.perf_counter()
        while time.perf_counter() < deadline:
            user = users[writes % len(users)]
            pending.append(asyncio.ensure_future(write(user, f"w{writes}")))
            writes += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.gather(*pending)
        settle = time.perf_counter() + 10
        while received < writes and time.perf_counter() < settle:
            await asyncio.sleep(0.1)
        server = server_latency([metrics_before], [await scrape(http, worker)])
        for task in listeners + drains:
            task.cancel()
        for group in sockets.values():
            for socket in group:
                await socket.close()
    return {
        "sockets": total_sockets, "users": args.users, "writes": writes, "write_errors": errors,
        "rate_target": args.rate, "rate_achieved": writes / args.seconds, "pushes_timed": received,
        "missed": writes - received,
        "server": {name: server[name] for name in ("POST /api/tasks", "PUSH commit → socket write") if name in server},
        "latency_ms": {"p50": percentile(latencies, 50) * 1000, "p99": percentile(latencies, 99) * 1000,
                       "max": max(latencies, default=float("nan")) * 1000},
        "worker_rss_before_mib": rss_before / 2**20, "worker_rss_idle_mib": rss_idle / 2**20,
        "memory_per_idle_socket_kib": (rss_idle - rss_before) / total_sockets / 1024,
    }


async def warm_up(http: aiohttp.ClientSession, url: str, user: Api) -> None:
    """One socket and one write first, so the code paths' one-time costs (imports, caches, the first
    consumer fetch) are not counted as the sockets' memory."""
    socket = await http.ws_connect(url, params={"token": user.token})
    assert json.loads((await socket.receive()).data)["type"] == "ready"
    await user.create(title="warm-up")
    await socket.receive(timeout=30)
    await socket.close()
    await asyncio.sleep(1)


async def drain(socket: aiohttp.ClientWebSocketResponse) -> None:
    async for _ in socket:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--sockets-per-user", type=int, default=10)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg").start()
        broker = start_broker(Path(tmp))
        try:
            migrate.upgrade(pg.url)
            for n in range(args.runs):
                # A fresh worker per run: see the module docstring.
                worker = Worker(database_url=pg.url, broker_url=broker.url, data_dir=Path(tmp) / f"worker-{n}",
                                extra_env={"LOG_LEVEL": "warning"}).start()
                try:
                    results.append(asyncio.run(run(worker, args)))
                finally:
                    worker.stop()
        finally:
            broker.stop()
            pg.stop()
    summary = {key: statistics.median(r["latency_ms"][key] for r in results) for key in ("p50", "p99")}
    memory = statistics.median(r["memory_per_idle_socket_kib"] for r in results)
    print(f"{results[0]['sockets']} sockets, {results[0]['users']} users, {args.rate:.0f} writes/s for "
          f"{args.seconds:.0f} s, {args.runs} runs (2 cores shared by client, worker, PostgreSQL and broker)")
    print(f"{'run':<6}{'writes':>8}{'errors':>8}{'missed':>8}{'p50 ms':>10}{'p99 ms':>10}{'RSS MiB':>9}"
          f"{'KiB/socket':>12}")
    for i, r in enumerate(results, 1):
        print(f"{i:<6}{r['writes']:>8}{r['write_errors']:>8}{r['missed']:>8}{r['latency_ms']['p50']:>10.1f}"
              f"{r['latency_ms']['p99']:>10.1f}{r['worker_rss_before_mib']:>9.0f}"
              f"{r['memory_per_idle_socket_kib']:>12.1f}")
        for name, figures in r["server"].items():
            print(f"      worker: {name}: {figures['requests']} timed, mean {figures['mean_ms']} ms, "
                  f"p50 ≤ {figures['p50_le_ms']:g} ms, p99 ≤ {figures['p99_le_ms']:g} ms")
    print(f"median: p50 {summary['p50']:.1f} ms, p99 {summary['p99']:.1f} ms (target p99 ≤ 100 ms); "
          f"{memory:.1f} KiB per idle socket")
    out = ROOT / "tests" / "bench" / "results" / "websocket.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": results, "median_latency_ms": summary, "median_kib_per_socket": memory},
                              indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
