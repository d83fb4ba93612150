"""Benchmark: `taskstream dev` start-up to /ready, and create-task latency against one worker.

Run: .venv/bin/python tests/bench/bench_foundation.py [--runs 3] [--requests 2000] [--concurrency 1,20]
Prints a table and writes tests/bench/results/foundation.json.
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
from pathlib import Path

import aiohttp
import jwt

from streams.cli.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
TASKSTREAM = [sys.executable, "-c", "from streams.app import main; main()"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def start_dev(data_dir: Path, port: int) -> tuple[subprocess.Popen, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BROKER_URL", "JWT_SECRET")}
    env["WEB_PORT"] = str(port)
    env["RATE_LIMIT"] = "off"  # measures the service, not its throttle
    started = time.monotonic()
    process = subprocess.Popen([*TASKSTREAM, "dev", "--data-dir", str(data_dir)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    while not (data_dir / "dev.json").exists():
        if process.poll() is not None:
            raise RuntimeError("taskstream dev exited")
        if time.monotonic() - started > 120:
            raise TimeoutError("taskstream dev not ready in 120 s")
        time.sleep(0.02)
    return process, time.monotonic() - started


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(60)


async def create_latencies(url: str, token: str, requests: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    counter = iter(range(requests))
    headers = {"Authorization": f"Bearer {token}"}

    async def client(session: aiohttp.ClientSession) -> None:
        for i in counter:
            started = time.perf_counter()
            async with session.post(f"{url}/api/tasks", json={"title": f"bench {i}", "tags": ["bench"]},
                                    headers=headers) as response:
                await response.read()
                assert response.status == 201, response.status
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,20")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    results: dict = {"ready_seconds": {"cold": [], "warm": []}, "create": {str(c): [] for c in levels}}
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "dev"
            for kind in ("cold", "warm"):  # cold = new data folder (initdb); warm = the second start
                port = free_port()
                process, ready = start_dev(data_dir, port)
                results["ready_seconds"][kind].append(ready)
                if kind == "warm":
                    secret = (data_dir / "jwt-secret").read_text().strip()
                    token = jwt.encode({"sub": f"bench-{run}", "exp": int(time.time()) + 3600}, secret)
                    for level in levels:
                        latencies, elapsed = asyncio.run(
                            create_latencies(f"http://127.0.0.1:{port}", token, args.requests, level))
                        results["create"][str(level)].append({
                            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
                            "req_per_s": len(latencies) / elapsed})
                stop(process)
                (data_dir / "dev.json").unlink(missing_ok=True)

    summary = {
        "ready_seconds_median": {k: statistics.median(v) for k, v in results["ready_seconds"].items()},
        "create_median_of_runs": {
            level: {metric: statistics.median(r[metric] for r in runs) for metric in ("p50_ms", "p99_ms", "req_per_s")}
            for level, runs in results["create"].items()
        },
    }
    print(f"taskstream dev → /ready: cold {summary['ready_seconds_median']['cold']:.2f} s, "
          f"warm {summary['ready_seconds_median']['warm']:.2f} s (median of {args.runs})")
    print(f"{'create, concurrency':<22}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
    for level, row in summary["create_median_of_runs"].items():
        print(f"{level:<22}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}{row['req_per_s']:>10.0f}")
    out = ROOT / "tests" / "bench" / "results" / "foundation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": results, "summary": summary, "cpus": os.cpu_count()}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
