"""Benchmark: the CPU an idle worker uses (no requests, no events, no sockets).

Run: .venv/bin/python tests/bench/bench_idle.py [--seconds 60] [--settle 15] [--slice 10] [--env KEY=VALUE]
Starts its own PostgreSQL, broker and one `taskstream worker` (the embedded-broker profile, as
`taskstream dev` runs it), waits until it is ready and has settled (group joined, schedule rebuilt),
then reads the worker's CPU time (user + system, every thread) over SECONDS and prints it as a share
of one core, overall and per SLICE seconds (median), with the broker's and PostgreSQL's CPU over the
same span for context. Stops everything it started. Writes tests/bench/results/idle.json.

The CPU time of an idle process barely depends on what else the machine runs, unlike wall-clock
timings, so this is meaningful on a busy machine too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from stack import Worker, start_broker  # noqa: E402

from db import migrate  # noqa: E402
from streams.cli.embedded import EmbeddedPostgres  # noqa: E402


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of these processes (all their threads); ones that exited count 0."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """The postmaster whose data folder is `data_dir`, and its backends."""
    pid_file = data_dir / "postmaster.pid"
    try:
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    except (OSError, ValueError, psutil.Error):
        return []
    return [postmaster, *postmaster.children(recursive=True)]


def measure(groups: dict[str, list[psutil.Process]], seconds: float, slice_seconds: float) -> dict:
    started = time.monotonic()
    first = {name: cpu_seconds(procs) for name, procs in groups.items()}
    slices: list[float] = []
    previous, previous_at = first["worker"], started
    while (now := time.monotonic()) < started + seconds:
        time.sleep(min(slice_seconds, started + seconds - now))
        used, at = cpu_seconds(groups["worker"]), time.monotonic()
        slices.append(100.0 * (used - previous) / (at - previous_at))
        previous, previous_at = used, at
    elapsed = time.monotonic() - started
    result = {name: round(100.0 * (cpu_seconds(procs) - first[name]) / elapsed, 2) for name, procs in groups.items()}
    return {
        "seconds": round(elapsed, 1),
        "worker_cpu_percent": result["worker"],
        "worker_cpu_percent_slices": [round(s, 2) for s in slices],
        "worker_cpu_percent_slice_median": round(statistics.median(slices), 2) if slices else None,
        "broker_cpu_percent": result["broker"],
        "postgres_cpu_percent": result["postgres"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to measure")
    parser.add_argument("--settle", type=float, default=15.0, help="wait this long after ready before measuring")
    parser.add_argument("--slice", type=float, default=10.0, help="also report the CPU share per this many seconds")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra worker environment, e.g. KAFKA_PROFILE=kafka for Faust's own fetch wait (its "
                             "group join then takes ~30 s on the embedded broker: raise --settle)")
    parser.add_argument("--output", type=Path, default=ROOT / "tests" / "bench" / "results" / "idle.json")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="taskstream-bench-idle-"))
    pg = broker = worker = None
    try:
        pg = EmbeddedPostgres(tmp / "pg").start()
        migrate.upgrade(pg.url)
        broker = start_broker(tmp)
        worker = Worker(database_url=pg.url, broker_url=broker.url, data_dir=tmp / "worker",
                        extra_env={"LOG_LEVEL": "warning", **dict(e.split("=", 1) for e in args.env)}).start()
        time.sleep(args.settle)
        groups = {
            "worker": [psutil.Process(worker.process.pid)],
            "broker": [psutil.Process(broker.process.pid)],
            "postgres": postgres_processes(pg.data_dir),
        }
        result = {"settle_seconds": args.settle, "env": args.env, "load_average": list(psutil.getloadavg()),
                  "cpu_count": psutil.cpu_count(), **measure(groups, args.seconds, args.slice)}
    finally:
        if worker is not None:
            worker.stop()
        if broker is not None:
            broker.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"idle worker over {result['seconds']:.0f} s: {result['worker_cpu_percent']:.2f} % of a core "
          f"(median of {args.slice:.0f} s slices {result['worker_cpu_percent_slice_median']:.2f} %); "
          f"broker {result['broker_cpu_percent']:.2f} %, PostgreSQL {result['postgres_cpu_percent']:.2f} %; "
          f"load average {result['load_average'][0]:.1f} on {result['cpu_count']} cores")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
