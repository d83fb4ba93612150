"""Benchmark: list, filter, search, cursor and create throughput and latency for a heavy user over 1M tasks.

Run: .venv/bin/python tests/bench/bench_queries.py [--runs 3] [--duration 20] [--concurrency 50] [--skip-seed]
     [--data-dir DIR] [--profile] [--only NAME,NAME] [--tasks N --users N --heavy-user N]
Starts its own stack (embedded PostgreSQL, embedded broker, one worker), seeds it with `streams.cli.seed`
(1,000 users, 1,000,000 tasks, 50,000 of them for `seed-heavy`), then drives each scenario with a
closed-loop load of --concurrency clients from a separate process, next to a bare aiohttp hello-world
server (the ceiling of this machine and this load generator). Prints a table and the EXPLAIN plans of
the read scenarios; writes tests/bench/results/queries.json. With --data-dir the seeded database is
kept there, so a later run can pass --skip-seed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "bench" / "results"
WORKER = [sys.executable, "-c", "from streams.app import main; main()", "worker", "-l", "warn"]
HEAVY_USER = "seed-heavy"  # streams.cli.seed.HEAVY_USER; repeated so the load process need not import the app
CREATE_TITLE = "bench create"  # created tasks are deleted after each create scenario by this title prefix

TARGETS = {"read_p99_ms": 25.0, "plain_list_req_per_s": 1500.0, "create_req_per_s": 800.0, "create_p99_ms": 30.0}

HELLO_SERVER = """
import sys
from aiohttp import web

async def hello(request):
    return web.Response(text="hello")

app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


@dataclass
class Scenario:
    name: str
    method: str = "GET"
    query: dict[str, str] = field(default_factory=dict)
    create: bool = False
    path: str | None = None  # set when the scenario is ready to run
    unavailable: str | None = None  # why it cannot run (e.g. the API gave no next_cursor)

    @property
    def read(self) -> bool:
        return not self.create

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


def scenarios() -> list[Scenario]:
    listing = [
        Scenario("plain list"),
        Scenario("priority HIGH by due date", query={"priority": "HIGH", "sort_by": "due_date"}),
        Scenario("tags=work", query={"tags": "work"}),
        Scenario("search meeting", query={"search": "meeting"}),
        Scenario('search "quarterly report"', query={"search": '"quarterly report"'}),
        Scenario("filter high #work due<7d !done", query={"filter": "priority:high & #work & due<7d & !done"}),
    ]
    for scenario in listing:
        scenario.path = "/api/tasks" + (f"?{urlencode(scenario.query)}" if scenario.query else "")
    # Cursor: the path is found by walking the pages first; create goes last (it leaves the relay busy).
    return [*listing, Scenario("cursor page 200"), Scenario("create task", method="POST", create=True,
                                                             path="/api/tasks")]


# The load generator: runs in its own process, so it never shares the worker's event loop ----------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Closed loop: `concurrency` clients, each sending its next request when the last one answered."""
    return asyncio.run(_load(spec))


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {spec['token']}"}
    if spec["create"]:
        headers["Content-Type"] = "application/json"
    numbers = itertools.count()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    first_error: dict[str, Any] | None = None

    async def client(session: aiohttp.ClientSession, deadline: float, record: bool) -> None:
        nonlocal first_error
        while time.perf_counter() < deadline:
            body = None
            if spec["create"]:
                body = json.dumps({"title": f"{CREATE_TITLE} {next(numbers)}", "priority": "high",
                                   "tags": ["bench"]}).encode()
            started = time.perf_counter()
            try:
                async with session.request(spec["method"], spec["url"], data=body, headers=headers) as response:
                    payload = await response.read()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                status, payload = 0, repr(exc).encode()
            elapsed = time.perf_counter() - started
            if not record:
                continue
            statuses[status] += 1
            if 200 <= status < 300:
                latencies.append(elapsed)
            elif first_error is None:
                first_error = {"status": status, "body": payload[:1000].decode("utf-8", errors="replace")}

    connector = aiohttp.TCPConnector(limit=spec["concurrency"])
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        if spec["warmup"] > 0:
            deadline = time.perf_counter() + spec["warmup"]
            await asyncio.gather(*(client(session, deadline, False) for _ in range(spec["concurrency"])))
        started = time.perf_counter()
        deadline = started + spec["duration"]
        await asyncio.gather(*(client(session, deadline, True) for _ in range(spec["concurrency"])))
        elapsed = time.perf_counter() - started
    errors = sum(count for status, count in statuses.items() if not 200 <= status < 300)
    return {
        "req_per_s": len(latencies) / elapsed,  # 2xx answers per second
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "p99_ms": percentile(latencies, 99) * 1000 if latencies else None,
        "requests": sum(statuses.values()),
        "errors": errors,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "first_error": first_error,
        "seconds": elapsed,
    }


# The stack --------------------------------------------------------------------------------------


def wait_ready(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"worker not ready within {timeout:.0f} s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def start_process(stack: contextlib.ExitStack, command: list[str], log_path: Path,
                  env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    stack.callback(stop_process, process)
    return process


def seed_database(pg, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Seed (or, with --skip-seed, check the earlier seed); returns what the database holds."""
    from streams.cli import seed

    state_path = data_dir / "seed.json"
    heavy = int(pg.psql("taskstream", f"SELECT count(*) FROM tasks WHERE user_id = '{HEAVY_USER}'").strip())
    if args.skip_seed:
        if not heavy or not state_path.exists():
            raise SystemExit(f"--skip-seed: no seeded database in {data_dir}; run once without --skip-seed "
                             "(with the same --data-dir) first")
        state = json.loads(state_path.read_text())
        print(f"reusing the seeded database in {data_dir} ({state['tasks']:,} tasks, seeded {state['now']})")
        return {**state, "seeded_now": False}
    plan = seed.SeedPlan(now=datetime.now(timezone.utc), users=args.users, tasks=args.tasks,
                         heavy_user=args.heavy_user, seed=args.seed)
    print(f"seeding {plan.tasks:,} tasks for {plan.users:,} users ({plan.heavy_user:,} for {HEAVY_USER}, "
          f"seed {plan.seed}){' over the earlier seed' if heavy else ''} ...")
    report = asyncio.run(seed.load(pg.url, plan, replace=bool(heavy)))
    state = {"users": plan.users, "tasks": plan.tasks, "heavy_user": plan.heavy_user, "seed": plan.seed,
             "now": plan.now.isoformat(), "copy_seconds": report.copy_seconds,
             "rows_per_second": report.rows_per_second, "vacuum_analyze_seconds": report.analyze_seconds}
    state_path.write_text(json.dumps(state, indent=2))
    print(f"seeded at {report.rows_per_second:,.0f} rows/s ({report.copy_seconds:.1f} s), "
          f"VACUUM (ANALYZE) {report.analyze_seconds:.1f} s")
    return {**state, "seeded_now": True}


def wait_outbox_drained(pg, timeout: float = 300) -> float:
    """Seconds until the outbox relay published everything the create scenario wrote."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if pg.psql("taskstream", "SELECT count(*) FROM outbox WHERE published_at IS NULL").strip() == "0":
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"the outbox still has unpublished rows after {timeout:.0f} s")


def remove_created(pg) -> None:
    """Delete what the create scenario added, so every run (and the EXPLAINs) see the seeded table.

    The VACUUM removes the dead index entries and restores the visibility map the deletes cleared;
    without it each later count(*) visits the heap for them.
    """
    pg.psql("taskstream", f"DELETE FROM tasks WHERE user_id = '{HEAVY_USER}' AND title LIKE '{CREATE_TITLE} %'")
    pg.psql("taskstream", "VACUUM tasks")


async def get_json(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with session.get(url, headers=headers) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def cursor_page_path(base: str, token: str, pages: int = 200, limit: int = 20) -> tuple[str | None, str | None]:
    """The URL path of page `pages` (limit `limit`), found by following next_cursor; or why it is missing."""
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/tasks?limit={limit}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for page in range(1, pages):
            status, body = await get_json(session, base + path, headers)
            if status != 200:
                return None, f"page {page}: HTTP {status}: {str(body)[:500]}"
            cursor = body.get("next_cursor") if isinstance(body, dict) else None
            if not cursor:
                return None, f"page {page} has no next_cursor (the API does not page by cursor yet?)"
            path = f"/api/tasks?{urlencode({'limit': limit, 'cursor': cursor})}"
    return path, None


# EXPLAIN ----------------------------------------------------------------------------------------


def read_statements(read: list[Scenario], now: datetime) -> tuple[list[tuple[str, Any]], list[str]]:
    """(name, SQLAlchemy statement) pairs for the read scenarios, built by the project's own query code.

    The scenario's query string goes through the API's own parser (web.validation.listing.parse_list) and the
    statements come from db.listing.list_query, as the view builds them. Problems come back as notes.
    """
    from db.listing import list_query as builder
    from web.validation.listing import parse_list

    notes: list[str] = []
    pairs: list[tuple[str, Any]] = []
    for scenario in read:
        if scenario.path is None:
            notes.append(f"{scenario.name}: not explained ({scenario.unavailable})")
            continue
        query = dict(parse_qsl(urlsplit(scenario.path).query, keep_blank_values=True))
        try:
            built = builder(HEAVY_USER, parse_list(query), now)
        except Exception as exc:  # a parameter the API rejects, or a builder with another signature
            notes.append(f"{scenario.name}: not explained: {type(exc).__name__}: {exc}")
            continue
        if isinstance(built, (tuple, list)):
            labels = ("page", "count") if len(built) == 2 else tuple(str(i) for i in range(len(built)))
            pairs.extend((f"{scenario.name} ({label})", statement) for label, statement in zip(labels, built))
        else:
            pairs.append((scenario.name, built))
    return pairs, notes


def compile_statement(statement: Any) -> tuple[str, list[Any]]:
    """SQL for EXPLAIN: literal values where SQLAlchemy can render them, else $n parameters."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    try:
        return str(statement.compile(dialect=dialect(), compile_kwargs={"literal_binds": True})), []
    except Exception:  # a type without a literal renderer: keep the parameters bound
        compiled = statement.compile(dialect=dialect(), compile_kwargs={"render_postcompile": True})
        return str(compiled), [compiled.params[name] for name in compiled.positiontup]


def explain_plans(database_url: str, pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) each (name, SQLAlchemy statement), flagging sequential scans of tasks.

    Runs on the project's own engine settings (db.engine.Database), so per-connection settings such as
    the trigram similarity threshold match the worker's. The worker runs its queries as prepared
    statements, where PostgreSQL may switch to a generic plan after five runs: that plan is shown too.
    """
    return asyncio.run(_explain(database_url, pairs))


async def _explain(database_url: str, pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    from db.engine import Database

    database = Database(database_url, pool_size=1)
    plans: list[dict[str, Any]] = []
    try:
        async with database.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            for name, statement in pairs:
                entry: dict[str, Any] = {"name": name}
                try:
                    sql, params = compile_statement(statement)
                    entry["sql"] = sql
                    rows = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) {sql}", *params)
                    entry["plan"] = "\n".join(row[0] for row in rows)
                    entry["seq_scan_on_tasks"] = "Seq Scan on tasks" in entry["plan"]
                    entry["generic_plan"] = await _generic_plan(raw, statement)
                    entry["generic_seq_scan_on_tasks"] = "Seq Scan on tasks" in entry["generic_plan"]
                except Exception as exc:
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                plans.append(entry)
    finally:
        await database.dispose()
    return plans


async def _generic_plan(raw: Any, statement: Any) -> str:
    """EXPLAIN ANALYZE of the plan a prepared statement gets once PostgreSQL settles on a generic one."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    compiled = statement.compile(dialect=dialect(), compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup]
    # EXECUTE takes no bound parameters: its arguments are quoted literals, cast to the prepared types.
    arguments = f"({', '.join(_quoted(value) for value in params)})" if params else ""
    await raw.execute(f"PREPARE bench_generic AS {compiled}")  # not transactional: deallocated below
    try:
        async with raw.transaction():
            await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            rows = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) EXECUTE bench_generic{arguments}")
    finally:
        await raw.execute("DEALLOCATE bench_generic")
    return "\n".join(row[0] for row in rows)


def _quoted(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (list, tuple)):
        items = ('"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"' for item in value)
        text = "{" + ",".join(items) + "}"
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text.replace("'", "''") + "'"


# Profiling --------------------------------------------------------------------------------------


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start_profile(pid: int, scenario: Scenario, seconds: float) -> tuple[subprocess.Popen | None, Path, str | None]:
    out = RESULTS / f"profile-{scenario.slug}.svg"
    binary = py_spy()
    if binary is None:
        return None, out, "py-spy is not installed (.venv/bin/pip install py-spy)"
    process = subprocess.Popen(
        [binary, "record", "-o", str(out), "--pid", str(pid), "--duration", str(int(seconds + 1)), "--nonblocking"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )
    time.sleep(1)  # let it attach before the load starts
    return process, out, None


def finish_profile(process: subprocess.Popen, out: Path) -> dict[str, Any]:
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    if process.returncode == 0 and out.exists():
        return {"svg": str(out.relative_to(ROOT))}
    message = (stderr or stdout).strip()[-800:]
    return {"error": f"py-spy exited {process.returncode}: {message}. It needs ptrace on the worker; a profiler "
                     "inside another process (pyinstrument) is not possible without changing the worker"}


# Reporting --------------------------------------------------------------------------------------


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    summary = {}
    for name, results in runs.items():
        row: dict[str, Any] = {"runs": len(results), "errors": sum(r["errors"] for r in results)}
        for metric in ("req_per_s", "p50_ms", "p99_ms"):
            values = [r[metric] for r in results if r[metric] is not None]
            row[metric] = statistics.median(values) if values else None
        row["first_error"] = next((r["first_error"] for r in results if r["first_error"]), None)
        summary[name] = row
    return summary


def verdict(scenario: Scenario, row: dict[str, Any]) -> tuple[str, bool | None]:
    p99, rate = row.get("p99_ms"), row.get("req_per_s")
    if p99 is None:
        return "-", None
    if scenario.create:
        return (f"≥{TARGETS['create_req_per_s']:.0f}/s, p99≤{TARGETS['create_p99_ms']:.0f}",
                rate >= TARGETS["create_req_per_s"] and p99 <= TARGETS["create_p99_ms"])
    if scenario.name == "plain list":
        return (f"≥{TARGETS['plain_list_req_per_s']:.0f}/s, p99≤{TARGETS['read_p99_ms']:.0f}",
                rate >= TARGETS["plain_list_req_per_s"] and p99 <= TARGETS["read_p99_ms"])
    return f"p99≤{TARGETS['read_p99_ms']:.0f}", p99 <= TARGETS["read_p99_ms"]


def fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def print_table(all_scenarios: list[Scenario], summary: dict[str, dict[str, Any]], ceiling: float | None,
                args: argparse.Namespace) -> None:
    print()
    print(f"os.cpu_count() = {os.cpu_count()}: the load generator, the worker, PostgreSQL and the broker all "
          "share these cores, so the figures are lower bounds for a real deployment.")
    print(f"closed loop, {args.concurrency} clients, {args.duration:g} s per run, median of {args.runs} run(s); "
          "req/s counts 2xx answers; errors = non-2xx")
    print(f"{'scenario':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'ceiling':>9}  {'target':<22}{'':>6}")
    print(f"{'hello world (aiohttp ceiling)':<34}{fmt(ceiling, ',.0f'):>9}")
    for scenario in all_scenarios:
        row = summary.get(scenario.name)
        if row is None:
            print(f"{scenario.name:<34}{'not run: ' + (scenario.unavailable or 'filtered out')}")
            continue
        target, ok = verdict(scenario, row)
        ratio = f"{row['req_per_s'] / ceiling:.0%}" if ceiling and row["req_per_s"] is not None else "-"
        mark = {True: "ok", False: "MISS", None: ""}[ok]
        print(f"{scenario.name:<34}{fmt(row['req_per_s'], ',.0f'):>9}{fmt(row['p50_ms'], '.1f'):>9}"
              f"{fmt(row['p99_ms'], '.1f'):>9}{row['errors']:>8}{ratio:>9}  {target:<22}{mark:>6}")
    for scenario in all_scenarios:
        row = summary.get(scenario.name)
        if row and row["first_error"]:
            error = row["first_error"]
            print(f"  first error, {scenario.name}: HTTP {error['status']}: {error['body'][:300]}")


def print_plans(plans: list[dict[str, Any]], notes: list[str]) -> None:
    print("\nEXPLAIN (ANALYZE, BUFFERS) of the read scenarios' SQL, as seed-heavy:")
    for note in notes:
        print(f"  {note}")
    for entry in plans:
        flag = "  <-- Seq Scan on tasks" if entry.get("seq_scan_on_tasks") else ""
        generic = "  (generic plan: Seq Scan on tasks)" if entry.get("generic_seq_scan_on_tasks") else ""
        print(f"\n--- {entry['name']}{flag}{generic}")
        print(entry.get("plan") or f"  error: {entry.get('error')}")
        if entry.get("generic_plan") and plan_shape(entry["generic_plan"]) != plan_shape(entry.get("plan", "")):
            print("  generic plan (what a prepared statement may switch to after five runs) differs:")
            print("\n".join(f"  {line}" for line in entry["generic_plan"].splitlines()))


def plan_shape(plan: str) -> list[str]:
    """The plan's nodes (type, index, table) without costs, timings or values."""
    return [line.split("  (cost=")[0].strip() for line in plan.splitlines() if "(cost=" in line]


# Main -------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=20, help="seconds of timed load per scenario and run")
    parser.add_argument("--warmup", type=float, default=2, help="untimed seconds of load before each timed run")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--data-dir", default=None, help="keep the seeded database here (reused with --skip-seed)")
    parser.add_argument("--skip-seed", action="store_true", help="use the database seeded earlier in --data-dir")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed runs, record a py-spy flame graph of the worker per scenario")
    parser.add_argument("--only", default=None, help="comma-separated scenario names (or parts of them) to run")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--heavy-user", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.skip_seed and not args.data_dir:
        parser.error("--skip-seed needs --data-dir (the folder an earlier run seeded)")
    return args


def main() -> None:
    args = parse_args()
    import jwt

    from db import migrate
    from streams.cli.embedded import EmbeddedBroker, EmbeddedPostgres, free_port, wait_for_port

    all_scenarios = scenarios()
    chosen = all_scenarios
    if args.only:
        wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        chosen = [s for s in all_scenarios if any(w in s.name.lower() for w in wanted)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    print(f"os.cpu_count() = {os.cpu_count()} (shared by the load generator, worker, PostgreSQL and broker)")

    with contextlib.ExitStack() as stack:
        if args.data_dir:
            data_dir = Path(args.data_dir).resolve()
            data_dir.mkdir(parents=True, exist_ok=True)
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-queries-")))
        pg = EmbeddedPostgres(data_dir / "postgres")
        stack.callback(pg.stop)
        pg.start()
        migrate.upgrade(pg.url)
        seeded = seed_database(pg, data_dir, args)

        broker = EmbeddedBroker(log_path=data_dir / "broker.log")
        stack.callback(broker.stop)
        broker.start()
        secret = secrets.token_hex(32)
        port = free_port()
        worker_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="worker-", dir=data_dir)))
        env = {**os.environ, "DATABASE_URL": pg.url, "KAFKA_BROKER_URL": broker.url, "KAFKA_PROFILE": "embedded",
               "JWT_SECRET": secret, "WEB_PORT": str(port), "WEB_BIND": "127.0.0.1", "DATA_DIR": str(worker_dir),
               "RATE_LIMIT": "off"}  # measures the queries, not the throttle
        worker_log = data_dir / "worker.log"
        worker = start_process(stack, WORKER, worker_log, env)
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        wait_ready(base, worker, worker_log)
        print(f"worker ready in {time.monotonic() - started:.1f} s (pid {worker.pid}, log {worker_log})")

        hello_port = free_port()
        hello = start_process(stack, [sys.executable, "-c", HELLO_SERVER, str(hello_port)], data_dir / "hello.log")
        wait_for_port(hello_port, timeout=30, what="the hello-world server", process=hello)

        now = int(time.time())
        token = jwt.encode({"sub": HEAVY_USER, "iat": now, "exp": now + 12 * 3600}, secret, algorithm="HS256")
        status, body = asyncio.run(_first_page(base, token))
        total = body.get("total") if isinstance(body, dict) else None
        print(f"GET /api/tasks as {HEAVY_USER}: HTTP {status}, total {total}")

        cursor = next(s for s in all_scenarios if s.name == "cursor page 200")
        if cursor in chosen:
            cursor.path, cursor.unavailable = asyncio.run(cursor_page_path(base, token))
            if cursor.unavailable:
                print(f"cursor page 200: {cursor.unavailable}")

        pool = stack.enter_context(ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")))

        def load(url: str, scenario: Scenario | None) -> dict[str, Any]:
            spec = {"url": url, "method": scenario.method if scenario else "GET", "token": token,
                    "create": bool(scenario and scenario.create), "concurrency": args.concurrency,
                    "duration": args.duration, "warmup": args.warmup}
            return pool.submit(run_load, spec).result()

        runs: dict[str, list[dict[str, Any]]] = {}
        ceiling_runs: list[dict[str, Any]] = []
        drains: list[float] = []
        for run in range(args.runs):
            ceiling_runs.append(load(f"http://127.0.0.1:{hello_port}/", None))
            print(f"run {run + 1}/{args.runs}: hello world {ceiling_runs[-1]['req_per_s']:,.0f} req/s")
            for scenario in chosen:
                if scenario.path is None:
                    continue
                result = load(base + scenario.path, scenario)
                runs.setdefault(scenario.name, []).append(result)
                print(f"run {run + 1}/{args.runs}: {scenario.name}: {result['req_per_s']:,.0f} req/s, "
                      f"p99 {fmt(result['p99_ms'], '.1f')} ms, {result['errors']} errors")
                if scenario.create:
                    drains.append(wait_outbox_drained(pg))
                    remove_created(pg)

        profiles: dict[str, Any] = {}
        if args.profile:
            for scenario in chosen:
                if scenario.path is None:
                    continue
                process, out, problem = start_profile(worker.pid, scenario, args.warmup + args.duration)
                if process is None:
                    profiles[scenario.name] = {"error": problem}
                    break
                load(base + scenario.path, scenario)
                profiles[scenario.name] = finish_profile(process, out)
                print(f"profile {scenario.name}: {profiles[scenario.name]}")
                if scenario.create:
                    wait_outbox_drained(pg)
                    remove_created(pg)

        reads = [s for s in chosen if s.read]
        pairs, notes = read_statements(reads, datetime.now(timezone.utc))
        plans = explain_plans(pg.url, pairs) if pairs else []

    summary = summarize(runs)
    ceiling = statistics.median(r["req_per_s"] for r in ceiling_runs) if ceiling_runs else None
    print_table(all_scenarios if not args.only else chosen, summary, ceiling, args)
    if drains:
        print(f"outbox drained {statistics.median(drains):.1f} s (median) after each create run")
    print_plans(plans, notes)
    flagged = [p["name"] for p in plans if p.get("seq_scan_on_tasks") or p.get("generic_seq_scan_on_tasks")]
    if flagged:
        print(f"\nSeq Scan on tasks in: {', '.join(flagged)}")
    if profiles:
        print("\nprofiles:", json.dumps(profiles, indent=2))

    out = RESULTS / "queries.json"
    out.write_text(json.dumps({
        "cpus": os.cpu_count(),
        "note": "client, worker, PostgreSQL and broker share the machine's cores",
        "config": {k: v for k, v in vars(args).items()},
        "seed": seeded,
        "targets": TARGETS,
        "scenarios": {s.name: {"method": s.method, "path": s.path, "unavailable": s.unavailable} for s in chosen},
        "ceiling": {"runs": ceiling_runs, "req_per_s_median": ceiling},
        "runs": runs,
        "summary": {name: {**row, "ratio_to_ceiling": (row["req_per_s"] / ceiling if ceiling and row["req_per_s"]
                                                       else None)} for name, row in summary.items()},
        "outbox_drain_seconds": drains,
        "explain": {"plans": plans, "notes": notes},
        "profiles": profiles,
    }, indent=2, default=str))
    print(f"\nwritten to {out}")


async def _first_page(base: str, token: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        return await get_json(session, f"{base}/api/tasks?limit=1", {"Authorization": f"Bearer {token}"})


if __name__ == "__main__":
    main()
