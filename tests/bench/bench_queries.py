"""Benchmark: the API's list, filter, search, get, create and complete routes against their two ceilings.

Run (a full run, both datasets, one worker):
    .venv/bin/python tests/bench/bench_queries.py --data-dir .bench-queries-data
then, reusing the seeded databases:
    .venv/bin/python tests/bench/bench_queries.py --data-dir .bench-queries-data --skip-seed [--workers 2] [--profile]
Options: [--dataset 10k|1m|both] [--runs 1] [--duration 10] [--warmup 2] [--concurrency 50] [--workers N]
         [--only NAME,NAME] [--profile] [--users N --tasks N --heavy-user N (the 1m dataset)]

For each dataset (10k: one user, `seed-heavy`, with 10,000 tasks; 1m: 1,000 users and 1,000,000 tasks, 50,000
of them `seed-heavy`'s), seeded by `streams.cli.seed` into its own embedded PostgreSQL (one after the other),
it starts an embedded broker and --workers `taskstream worker` processes, then measures in one run:
  1. the ceiling of this machine and load generator: --workers bare aiohttp hello-world servers;
  2. PostgreSQL's own ceiling per read scenario: `pgbench -M prepared` running the exact SQL the worker runs
     for it (db.listing.list_sql / GET_SQL when they exist, else today's SQLAlchemy statements), its
     parameters rendered as literals;
  3. each API scenario through the worker(s): req/s, p50, p99, errors, ratio to both ceilings, the issue's
     target, and the CPU seconds the worker(s), PostgreSQL (all its processes) and the broker spent.
The load is a closed loop of --concurrency clients in a separate process, spread round-robin over the
workers' ports. The rare search is "waranty": a misspelling (no full-text match) of "warranty", which is
in 1.7 % of the seeded titles (170 of the 10k user's tasks), so only the trigram typo tolerance finds them;
"meeting" is in 36 % of titles and descriptions. Each read scenario's match count is printed first.
"complete" alternates complete and uncomplete over a set of open tasks, so every request changes a task
(a second complete of a completed task writes nothing); the tasks are reopened after the scenario.
It prints the table, EXPLAIN (ANALYZE, BUFFERS) of each read scenario's SQL and, with --profile, where the
(first) worker spends its time per scenario (py-spy: `.venv/bin/pip install py-spy`); everything goes to
tests/bench/results/queries.json (and profile-*.txt, collapsed stacks), which git ignores.

Run time at the defaults (--runs 1 --duration 10 --warmup 2): about 4 minutes per dataset, plus seeding
the first time (10k: seconds; 1m: minutes, COPY into the indexed table at a few 10,000 rows/s) and start-up:
about 10 to 15 minutes for a first full run, 9 with --skip-seed; --profile adds about 2.5 minutes per dataset,
--runs adds about 4 minutes per dataset and run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "bench" / "results"
WORKER = [sys.executable, "-c", "from streams.app import main; main()", "worker", "-l", "warn"]
HEAVY_USER = "seed-heavy"  # streams.cli.seed.HEAVY_USER; repeated so the load process need not import the app
CREATE_TITLE = "bench create"  # created tasks are deleted after each create scenario by this title prefix
PROJECT_DIRS = ("streams", "agents", "tables", "web", "db")  # the project's own code, for the profiles
COMPLETE_IDS = 5000  # open tasks the complete scenario toggles

#: The issue's targets (#15) per kind of scenario: (metric, bound, dataset it applies to or None for both).
#: "ratio" is req/s as a share of the hello-world ceiling; "p99" is milliseconds.
TARGETS: dict[str, list[tuple[str, float, str | None]]] = {
    "list": [("ratio", 0.30, None), ("p99", 50.0, None)],
    "filtered": [("ratio", 0.25, None)],  # every filtered list, and get by id
    "search": [("ratio", 0.10, "10k"), ("p99", 150.0, "1m")],
    "write": [("ratio", 0.15, None)],  # create and complete
}

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
    kind: str = "list"  # list, get, create or complete: what the load generator sends
    target: str = "filtered"  # a key of TARGETS
    query: dict[str, str] = field(default_factory=dict)
    path: str | None = None  # set when the scenario is ready to run
    unavailable: str | None = None  # why it cannot run (e.g. the API gave no next_cursor)

    @property
    def read(self) -> bool:
        return self.kind in ("list", "get")

    @property
    def method(self) -> str:
        return "GET" if self.read else "POST"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


def scenarios() -> list[Scenario]:
    listing = [
        Scenario("list", target="list"),
        Scenario("priority HIGH by due date", query={"priority": "HIGH", "sort_by": "due_date"}),
        Scenario("tags=work", query={"tags": "work"}),
        Scenario("filter high #work due<7d !done", query={"filter": "priority:high & #work & due<7d & !done"}),
        Scenario("search meeting", target="search", query={"search": "meeting"}),
        Scenario("search waranty (rare, typo)", target="search", query={"search": "waranty"}),
    ]
    for scenario in listing:
        scenario.path = "/api/tasks?" + urlencode({"limit": "20", **scenario.query})
    # The cursor, get and complete paths need the seeded data; create and complete go last (they leave
    # the outbox relay busy).
    return [*listing, Scenario("cursor page 200"), Scenario("get by id", kind="get"),
            Scenario("create", kind="create", target="write", path="/api/tasks"),
            Scenario("complete", kind="complete", target="write")]


# The load generator: runs in its own process, so it never shares the worker's event loop ----------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Closed loop: `concurrency` clients, each sending its next request when the last one answered."""
    return asyncio.run(_load(spec))


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {spec['token']}"}
    if spec["kind"] == "create":
        headers["Content-Type"] = "application/json"
    concurrency, bases, kind = spec["concurrency"], spec["bases"], spec["kind"]
    created = 0
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    first_error: dict[str, Any] | None = None
    # complete: client i owns every concurrency-th id and walks them, completing on even passes and
    # uncompleting on odd ones, so each request changes its task. Kept across warm-up and timed phase.
    owned = [spec.get("ids", [])[i::concurrency] for i in range(concurrency)]
    steps = [0] * concurrency

    def next_request(index: int) -> tuple[str, bytes | None]:
        nonlocal created
        base = bases[index % len(bases)]
        if kind == "create":
            created += 1
            body = {"title": f"{CREATE_TITLE} {created}", "priority": "high", "tags": ["bench"]}
            return base + spec["path"], json.dumps(body).encode()
        if kind == "complete":
            mine, step = owned[index], steps[index]
            steps[index] += 1
            action = "complete" if (step // len(mine)) % 2 == 0 else "uncomplete"
            return f"{base}/api/tasks/{mine[step % len(mine)]}/{action}", None
        return base + spec["path"], None

    async def client(session: aiohttp.ClientSession, index: int, deadline: float, record: bool) -> None:
        nonlocal first_error
        while time.perf_counter() < deadline:
            url, body = next_request(index)
            started = time.perf_counter()
            try:
                async with session.request(spec["method"], url, data=body, headers=headers) as response:
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

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        if spec["warmup"] > 0:
            deadline = time.perf_counter() + spec["warmup"]
            await asyncio.gather(*(client(session, i, deadline, False) for i in range(concurrency)))
        meters: Meters = spec["meters"]
        cpu_before = meters.read()
        started = time.perf_counter()
        deadline = started + spec["duration"]
        await asyncio.gather(*(client(session, i, deadline, True) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = Meters.spent(cpu_before, meters.read())
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
        "cpu_seconds": cpu,  # during the timed phase
        # CPU milliseconds per 2xx answer, per process group
        "cpu_ms_per_request": {name: round(1000 * value / len(latencies), 3) if latencies else None
                               for name, value in cpu.items()},
    }


# CPU accounting from /proc ----------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1], utime [11])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def cpu_seconds(pid: int, *, tree: bool = False) -> float:
    """User + system CPU seconds of a process; with `tree`, plus its children, living and reaped.

    PostgreSQL's backends are children of the postmaster; the reaped ones count in its cutime/cstime.
    """
    own = _stat(pid)
    if own is None:
        return 0.0
    ticks = int(own[11]) + int(own[12])
    if tree:
        ticks += int(own[13]) + int(own[14])
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[1] == str(pid):
                ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


@dataclass
class Meters:
    """The processes whose CPU time a scenario reports; read from /proc by whichever process holds it."""

    workers: list[int]
    postgres: int  # the postmaster
    broker: int

    def read(self) -> dict[str, float]:
        values = {f"worker{i}": cpu_seconds(pid, tree=True) for i, pid in enumerate(self.workers)}
        values["workers"] = sum(values.values())
        values["postgres"] = cpu_seconds(self.postgres, tree=True)
        values["broker"] = cpu_seconds(self.broker, tree=True)
        values["loadgen"] = cpu_seconds(os.getpid())  # read in the load generator's process
        return values

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: round(after[name] - before[name], 2) for name in after}


def postmaster_pid(pg) -> int:
    return int((pg.data_dir / "postmaster.pid").read_text().split()[0])


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


def seed_plan(dataset: str, args: argparse.Namespace, now: datetime):
    from streams.cli import seed

    if dataset == "10k":
        return seed.SeedPlan(now=now, users=1, tasks=10_000, heavy_user=10_000, seed=args.seed)
    return seed.SeedPlan(now=now, users=args.users, tasks=args.tasks, heavy_user=args.heavy_user, seed=args.seed)


def seed_database(pg, data_dir: Path, dataset: str, args: argparse.Namespace) -> dict[str, Any]:
    """Seed (or, with --skip-seed, check the earlier seed); returns what the database holds."""
    from streams.cli import seed

    state_path = data_dir / "seed.json"
    heavy = int(pg.psql("taskstream", f"SELECT count(*) FROM tasks WHERE user_id = '{HEAVY_USER}'").strip())
    if args.skip_seed:
        if not heavy or not state_path.exists():
            raise SystemExit(f"--skip-seed: no seeded {dataset} database in {data_dir}; run once without "
                             "--skip-seed (with the same --data-dir and --dataset) first")
        state = json.loads(state_path.read_text())
        print(f"[{dataset}] reusing the seeded database in {data_dir} ({state['tasks']:,} tasks, "
              f"seeded {state['now']})")
        return {**state, "seeded_now": False}
    plan = seed_plan(dataset, args, datetime.now(timezone.utc))
    print(f"[{dataset}] seeding {plan.tasks:,} tasks for {plan.users:,} user(s) ({plan.heavy_user:,} for "
          f"{HEAVY_USER}, seed {plan.seed}){' over the earlier seed' if heavy else ''} ...")
    report = asyncio.run(seed.load(pg.url, plan, replace=bool(heavy)))
    state = {"users": plan.users, "tasks": plan.tasks, "heavy_user": plan.heavy_user, "seed": plan.seed,
             "now": plan.now.isoformat(), "copy_seconds": report.copy_seconds,
             "rows_per_second": report.rows_per_second, "vacuum_analyze_seconds": report.analyze_seconds}
    state_path.write_text(json.dumps(state, indent=2))
    print(f"[{dataset}] seeded at {report.rows_per_second:,.0f} rows/s ({report.copy_seconds:.1f} s), "
          f"VACUUM (ANALYZE) {report.analyze_seconds:.1f} s")
    return {**state, "seeded_now": True}


def wait_outbox_drained(pg, timeout: float = 300) -> float:
    """Seconds until the outbox relay published everything the write scenario wrote."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if pg.psql("taskstream", "SELECT count(*) FROM outbox WHERE published_at IS NULL").strip() == "0":
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"the outbox still has unpublished rows after {timeout:.0f} s")


def restore(pg, scenario: Scenario, ids: list[str]) -> None:
    """Undo a write scenario, so every run (and the EXPLAINs) see the seeded table.

    The VACUUM removes the dead index entries and restores the visibility map the writes cleared;
    without it each later count(*) visits the heap for them.
    """
    if scenario.kind == "create":
        pg.psql("taskstream", f"DELETE FROM tasks WHERE user_id = '{HEAVY_USER}' AND title LIKE '{CREATE_TITLE} %'")
    elif scenario.kind == "complete" and ids:
        asyncio.run(_execute(pg, "UPDATE tasks SET completed = false, completed_at = NULL "
                                 "WHERE id = ANY($1::uuid[]) AND completed", ids))
    pg.psql("taskstream", "VACUUM tasks")


async def _execute(pg, sql: str, *arguments: Any) -> None:
    import asyncpg

    connection = await asyncpg.connect(pg.url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(sql, *arguments)
    finally:
        await connection.close()


def open_task_ids(pg, limit: int) -> list[str]:
    """Open, non-recurring tasks of the heavy user (completing a recurring one would schedule the next)."""
    rows = pg.psql("taskstream", f"SELECT id FROM tasks WHERE user_id = '{HEAVY_USER}' AND NOT completed "
                                 f"AND recurring_task_id IS NULL ORDER BY id LIMIT {limit}")
    return rows.split()


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
                return None, f"page {page} has no next_cursor (fewer than {pages * limit} tasks?)"
            path = f"/api/tasks?{urlencode({'limit': limit, 'cursor': cursor})}"
    return path, None


# The worker's SQL, for pgbench and EXPLAIN ------------------------------------------------------


def scenario_sql(scenario: Scenario, user_id: str, now: datetime, task_id: str | None,
                 ask: Any = None) -> tuple[str, list[Any], str]:
    """(SQL with $n placeholders, its arguments, where it came from) of the statement a read scenario runs.

    `ask(sql) -> str` runs a query on the benchmark's database: a search with loose words first asks, as
    the worker does (db.listing.few_matches_sql), whether full text finds too little and typo tolerance joins.

    Uses db.listing.list_sql / GET_SQL where they exist (the raw asyncpg path), else today's SQLAlchemy
    statements (the page query of db.listing.list_query; get_task's select) compiled for asyncpg.
    """
    from db import listing, tasks

    if scenario.kind == "get":
        for module in (listing, tasks):
            if getattr(module, "GET_SQL", None):
                return module.GET_SQL, [uuid.UUID(task_id), user_id], f"{module.__name__}.GET_SQL"
        from sqlalchemy import select

        from db.models import Task

        statement = select(Task).where(Task.id == uuid.UUID(task_id), Task.user_id == user_id)
        return *bound_sql(statement), "SQLAlchemy select(Task), as db.tasks.get_task builds it"
    from web.validation.listing import parse_list

    spec = parse_list(dict(parse_qsl(urlsplit(scenario.path).query, keep_blank_values=True)))
    if hasattr(listing, "list_sql"):
        fuzzy = False
        if ask is not None and hasattr(listing, "few_matches_sql") and listing.needs_fuzzy(spec):
            probe, probe_arguments = listing.few_matches_sql(user_id, spec, now)
            fuzzy = ask(with_literals(probe, probe_arguments)).strip() == "t"
        sql, arguments = listing.list_sql(user_id, spec, now, fuzzy=fuzzy)
        return sql, list(arguments), "db.listing.list_sql" + (" (typo-tolerant)" if fuzzy else "")
    page, _count = listing.list_query(user_id, spec, now)
    return *bound_sql(page), "db.listing.list_query (page statement), compiled by SQLAlchemy"


def bound_sql(statement: Any) -> tuple[str, list[Any]]:
    """A SQLAlchemy statement as asyncpg runs it: $n placeholders and their values in order."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    compiled = statement.compile(dialect=dialect(), compile_kwargs={"render_postcompile": True})
    return str(compiled), [compiled.params[name] for name in compiled.positiontup]


def sql_literal(value: Any) -> str:
    """A SQL literal for a parameter value.

    Text with a colon becomes an E'' string with the colon escaped: pgbench reads ":name" in a script
    as a variable, and timestamps ("18:07:24") and prefix queries ("meet:*") have colons.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    cast = ""
    if isinstance(value, datetime):
        text, cast = value.isoformat(), "::timestamptz"
    elif isinstance(value, date):
        text, cast = value.isoformat(), "::date"
    elif isinstance(value, timedelta):
        text, cast = f"{value.total_seconds()} seconds", "::interval"
    elif isinstance(value, (list, tuple)):
        items = ('"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"' for item in value)
        text = "{" + ",".join(items) + "}"
    else:
        text = str(value)
    if ":" in text:
        escaped = text.replace("\\", "\\\\").replace("'", "''").replace(":", "\\x3a")
        return f"E'{escaped}'{cast}"
    return "'" + text.replace("'", "''") + "'" + cast


_STRING_LITERAL = re.compile(r"(?<![A-Za-z0-9_])'((?:[^']|'')*)'")


def with_literals(sql: str, arguments: list[Any]) -> str:
    """The statement with its arguments as literals, for a pgbench script. The statement's own string
    constants with a colon (to_char's 'HH24:MI:SS') get the same E'' escaping as the arguments."""
    def constant(match: re.Match[str]) -> str:
        text = match.group(1)
        if ":" not in text:
            return match.group(0)
        return "E'" + text.replace("\\", "\\\\").replace(":", "\\x3a") + "'"

    return re.sub(r"\$(\d+)", lambda m: sql_literal(arguments[int(m.group(1)) - 1]), _STRING_LITERAL.sub(constant, sql))


def pgbench_binary() -> str | None:
    from streams.cli.embedded import postgres_bin

    try:
        shipped = postgres_bin() / "pgbench"
    except RuntimeError:
        shipped = None
    return str(shipped) if shipped and shipped.exists() else shutil.which("pgbench")


def run_pgbench(pg, sql: str, seconds: float, concurrency: int, script: Path) -> dict[str, Any]:
    """PostgreSQL's ceiling for one statement: pgbench's transactions per second, one statement each."""
    from db.engine import SERVER_SETTINGS

    binary = pgbench_binary()
    if binary is None:
        return {"error": "pgbench not found next to the embedded PostgreSQL or on PATH"}
    script.write_text(sql.rstrip().rstrip(";") + ";\n")
    # The worker's per-connection settings (trigram threshold, time zone), so the plans match.
    env = {**os.environ, "PGOPTIONS": " ".join(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())}
    command = [binary, "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-n", "-M", "prepared",
               "-c", str(concurrency), "-j", "2", "-T", str(max(1, round(seconds))), "-f", str(script), "taskstream"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                                timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        return {"error": f"pgbench did not finish within {seconds + 120:.0f} s"}
    found = re.search(r"tps = ([\d.]+)", result.stdout)
    if result.returncode != 0 or not found:
        return {"error": f"pgbench exited {result.returncode}: {(result.stderr or result.stdout).strip()[-800:]}"}
    latency = re.search(r"latency average = ([\d.]+) ms", result.stdout)
    return {"tps": float(found.group(1)), "latency_avg_ms": float(latency.group(1)) if latency else None}


def explain_plans(database_url: str, statements: list[tuple[str, str, list[Any]]]) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) each (name, SQL, arguments), flagging sequential scans of tasks.

    Runs on the project's own engine settings (db.engine.Database), so per-connection settings such as
    the trigram similarity threshold match the worker's (which plans every statement for its actual
    parameters: plan_cache_mode = force_custom_plan).
    """
    return asyncio.run(_explain(database_url, statements))


async def _explain(database_url: str, statements: list[tuple[str, str, list[Any]]]) -> list[dict[str, Any]]:
    from db.engine import Database

    database = Database(database_url, pool_size=1)
    plans: list[dict[str, Any]] = []
    try:
        async with database.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            for name, sql, arguments in statements:
                entry: dict[str, Any] = {"name": name}
                try:
                    rows = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) {sql}", *arguments)
                    entry["plan"] = "\n".join(row[0] for row in rows)
                    entry["seq_scan_on_tasks"] = "Seq Scan on tasks" in entry["plan"]
                except Exception as exc:
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                plans.append(entry)
    finally:
        await database.dispose()
    return plans


# Profiling --------------------------------------------------------------------------------------


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start_profile(pid: int, out: Path, seconds: float) -> tuple[subprocess.Popen | None, str | None]:
    binary = py_spy()
    if binary is None:
        return None, "py-spy is not installed (.venv/bin/pip install py-spy)"
    process = subprocess.Popen(
        [binary, "record", "--format", "raw", "-o", str(out), "--pid", str(pid), "--rate", "250",
         "--duration", str(int(seconds + 1)), "--nonblocking"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )
    time.sleep(1)  # let it attach before the load starts
    return process, None


def finish_profile(process: subprocess.Popen, out: Path) -> dict[str, Any]:
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    if process.returncode == 0 and out.exists():
        return {"raw": str(out.relative_to(ROOT)), **top_functions(out)}
    message = (stderr or stdout).strip()[-800:]
    return {"error": f"py-spy exited {process.returncode}: {message}. It needs ptrace on the worker"}


def _frame(frame: str) -> tuple[str, str]:
    """("function (file)", file path) of a py-spy frame "function (path/file.py:123)"."""
    found = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not found:
        return frame, ""
    function, path = found.groups()
    short = re.sub(r"^.*?site-packages/", "", path)
    short = short[len(str(ROOT)) + 1:] if short.startswith(str(ROOT) + "/") else short
    return f"{function} ({short})", short


def top_functions(raw: Path, count: int = 10) -> dict[str, Any]:
    """Top functions by own time, and the project's own functions by cumulative time, as sample shares."""
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        stack, _, number = line.rpartition(" ")
        samples = int(number)
        total += samples
        frames = [_frame(f) for f in stack.split(";")] if stack else [("(no Python stack)", "")]
        own[frames[-1][0]] += samples
        for name in {name for name, path in frames if path.split("/", 1)[0] in PROJECT_DIRS}:
            cumulative[name] += samples
    share = (lambda n: round(100 * n / total, 1)) if total else (lambda n: 0.0)
    return {"samples": total,
            "top_own": [(name, share(n)) for name, n in own.most_common(count)],
            "top_project_cumulative": [(name, share(n)) for name, n in cumulative.most_common(count)]}


# Reporting --------------------------------------------------------------------------------------


def median_of(results: list[dict[str, Any]], metric: str, within: str | None = None) -> float | None:
    values = [(r[within] if within else r).get(metric) for r in results]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs: dict[str, list[dict[str, Any]]], pgbench: dict[str, list[dict[str, Any]]],
              ceiling: float | None, dataset: str, chosen: list[Scenario]) -> dict[str, dict[str, Any]]:
    summary = {}
    for scenario in chosen:
        results = runs.get(scenario.name)
        if not results:
            continue
        row: dict[str, Any] = {"runs": len(results), "errors": sum(r["errors"] for r in results)}
        for metric in ("req_per_s", "p50_ms", "p99_ms"):
            row[metric] = median_of(results, metric)
        row["first_error"] = next((r["first_error"] for r in results if r["first_error"]), None)
        for key in ("cpu_seconds", "cpu_ms_per_request"):
            row[key] = {name: median_of(results, name, key) for name in results[0][key]}
        row["hello_ratio"] = row["req_per_s"] / ceiling if ceiling and row["req_per_s"] else None
        bench = pgbench.get(scenario.name, [])
        row["pgbench_tps"] = median_of(bench, "tps")
        row["pgbench_error"] = next((b["error"] for b in bench if b.get("error")), None)
        both = row["pgbench_tps"] and row["req_per_s"]
        row["pgbench_ratio"] = row["req_per_s"] / row["pgbench_tps"] if both else None
        row["targets"] = verdicts(scenario, row, dataset)
        summary[scenario.name] = row
    return summary


def verdicts(scenario: Scenario, row: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    checks = []
    for metric, bound, only in TARGETS[scenario.target]:
        if only and only != dataset:
            continue
        if metric == "ratio":
            value, text = row["hello_ratio"], f"≥{bound:.0%} hello"
            ok = None if value is None else value >= bound
        else:
            value, text = row["p99_ms"], f"p99≤{bound:.0f}"
            ok = None if value is None else value <= bound
        checks.append({"target": text, "ok": ok})
    return checks


def fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def print_table(result: dict[str, Any], chosen: list[Scenario], args: argparse.Namespace) -> None:
    summary, ceiling = result["summary"], result["ceiling"]["req_per_s_median"]
    print(f"\n=== dataset {result['dataset']}: {result['seed']['tasks']:,} tasks, {HEAVY_USER} has "
          f"{result['seed']['heavy_user']:,}; {args.workers} worker(s); closed loop, {args.concurrency} clients, "
          f"{args.duration:g} s per run, median of {args.runs} run(s)")
    print(f"os.cpu_count() = {os.cpu_count()}: load generator, pgbench, worker(s), PostgreSQL and broker share "
          "these cores, so the figures are lower bounds for a real deployment. req/s counts 2xx answers; "
          "err = non-2xx; %hello and %pg: req/s over the hello-world ceiling and over pgbench's tps of the "
          "same SQL; CPU s: seconds during the timed run (workers / postgres / broker); w ms/req: worker CPU "
          "milliseconds per answer")
    print(f"{'scenario':<30}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'err':>6}{'%hello':>8}{'pg tps':>8}{'%pg':>6}"
          f"  {'CPU s w/pg/br':<16}{'w ms/req':>9}  {'targets'}")
    print(f"{'hello world x' + str(args.workers):<30}{fmt(ceiling, ',.0f'):>8}")
    for scenario in chosen:
        row = summary.get(scenario.name)
        if row is None:
            why = result["scenarios"].get(scenario.name, {}).get("unavailable")
            print(f"{scenario.name:<30}not run: {why or 'filtered out'}")
            continue
        cpu = row["cpu_seconds"]
        cpu_text = f"{fmt(cpu['workers'], '.1f')}/{fmt(cpu['postgres'], '.1f')}/{fmt(cpu['broker'], '.1f')}"
        per_request = fmt(row["cpu_ms_per_request"]["workers"], ".2f")
        targets = ", ".join(f"{c['target']} {({True: 'ok', False: 'MISS', None: '?'})[c['ok']]}"
                            for c in row["targets"])
        print(f"{scenario.name:<30}{fmt(row['req_per_s'], ',.0f'):>8}{fmt(row['p50_ms'], '.1f'):>8}"
              f"{fmt(row['p99_ms'], '.1f'):>8}{row['errors']:>6}{fmt(row['hello_ratio'], '.0%'):>8}"
              f"{fmt(row['pgbench_tps'], ',.0f'):>8}{fmt(row['pgbench_ratio'], '.0%'):>6}  {cpu_text:<16}"
              f"{per_request:>9}  {targets}")
    for scenario in chosen:
        row = summary.get(scenario.name)
        if row and row["first_error"]:
            error = row["first_error"]
            print(f"  first error, {scenario.name}: HTTP {error['status']}: {error['body'][:300]}")
        if row and row["pgbench_error"]:
            print(f"  pgbench, {scenario.name}: {row['pgbench_error'][:500]}")
    if result["outbox_drain_seconds"]:
        print(f"  outbox drained {statistics.median(result['outbox_drain_seconds']):.1f} s (median) after each "
              "write run")
    print(f"  SQL for pgbench and EXPLAIN from: {', '.join(sorted(set(result['sql_sources'].values()))) or '-'}")


def print_plans(result: dict[str, Any]) -> None:
    print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the read scenarios' SQL, as {HEAVY_USER}, dataset {result['dataset']}:")
    for note in result["explain"]["notes"]:
        print(f"  {note}")
    for entry in result["explain"]["plans"]:
        flag = "  <-- Seq Scan on tasks" if entry.get("seq_scan_on_tasks") else ""
        print(f"\n--- {entry['name']}{flag}")
        print(entry.get("plan") or f"  error: {entry.get('error')}")


def print_profiles(result: dict[str, Any]) -> None:
    for name, profile in result["profiles"].items():
        print(f"\n--- profile, dataset {result['dataset']}, {name} (worker 0)")
        if "error" in profile:
            print(f"  {profile['error']}")
            continue
        print(f"  {profile['samples']} samples, collapsed stacks in {profile['raw']}")
        print("  top functions by own time:")
        for function, share in profile["top_own"]:
            print(f"    {share:5.1f} %  {function[:130]}")
        print("  top project functions (streams/ agents/ tables/ web/ db/) by cumulative time:")
        for function, share in profile["top_project_cumulative"]:
            print(f"    {share:5.1f} %  {function[:130]}")


# One dataset ------------------------------------------------------------------------------------


def run_dataset(dataset: str, data_dir: Path, chosen: list[Scenario], args: argparse.Namespace) -> dict[str, Any]:
    """Start the stack on the dataset's database, measure every chosen scenario, stop the stack."""
    import jwt

    from db import migrate
    from streams.cli.embedded import EmbeddedBroker, EmbeddedPostgres, free_port, wait_for_port

    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        pg = EmbeddedPostgres(data_dir / "postgres")
        stack.callback(pg.stop)
        pg.start()
        migrate.upgrade(pg.url)
        seeded = seed_database(pg, data_dir, dataset, args)

        broker = EmbeddedBroker(log_path=data_dir / "broker.log")
        stack.callback(broker.stop)
        broker.start()
        secret = secrets.token_hex(32)
        workers, bases = [], []
        for index in range(args.workers):
            port = free_port()
            worker_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"worker{index}-", dir=data_dir)))
            env = {**os.environ, "DATABASE_URL": pg.url, "KAFKA_BROKER_URL": broker.url,
                   "KAFKA_PROFILE": "embedded", "JWT_SECRET": secret, "WEB_PORT": str(port),
                   "WEB_BIND": "127.0.0.1", "DATA_DIR": str(worker_dir),
                   "RATE_LIMIT": "off"}  # measures the queries, not the throttle
            log_path = data_dir / f"worker{index}.log"
            workers.append((start_process(stack, WORKER, log_path, env), log_path))
            bases.append(f"http://127.0.0.1:{port}")
        started = time.monotonic()
        for (worker, log_path), base in zip(workers, bases):
            wait_ready(base, worker, log_path)
        print(f"[{dataset}] {args.workers} worker(s) ready in {time.monotonic() - started:.1f} s "
              f"(pids {', '.join(str(w.pid) for w, _ in workers)}, logs in {data_dir})")

        hello_bases = []
        for index in range(args.workers):  # as many hello-world processes as workers: a like-for-like ceiling
            hello_port = free_port()
            hello = start_process(stack, [sys.executable, "-c", HELLO_SERVER, str(hello_port)],
                                  data_dir / f"hello{index}.log")
            wait_for_port(hello_port, timeout=30, what="the hello-world server", process=hello)
            hello_bases.append(f"http://127.0.0.1:{hello_port}")

        now = int(time.time())
        token = jwt.encode({"sub": HEAVY_USER, "iat": now, "exp": now + 12 * 3600}, secret, algorithm="HS256")
        status, body = asyncio.run(_first_page(bases[0], token))
        total = body.get("total") if isinstance(body, dict) else None
        print(f"[{dataset}] GET /api/tasks as {HEAVY_USER}: HTTP {status}, total {total}")

        task_id = pg.psql("taskstream",
                          f"SELECT id FROM tasks WHERE user_id = '{HEAVY_USER}' ORDER BY id LIMIT 1").strip()
        complete_ids: list[str] = []
        for scenario in chosen:
            if scenario.name == "cursor page 200":
                scenario.path, scenario.unavailable = asyncio.run(cursor_page_path(bases[0], token))
                if scenario.unavailable:
                    print(f"[{dataset}] cursor page 200: {scenario.unavailable}")
            elif scenario.kind == "get":
                scenario.path = f"/api/tasks/{task_id}" if task_id else None
                scenario.unavailable = None if task_id else f"{HEAVY_USER} has no tasks"
            elif scenario.kind == "complete":
                complete_ids = open_task_ids(pg, COMPLETE_IDS)
                if len(complete_ids) < args.concurrency:
                    scenario.path, scenario.unavailable = None, (
                        f"{len(complete_ids)} open tasks, fewer than --concurrency {args.concurrency}")
                else:
                    scenario.path, scenario.unavailable = "/api/tasks/{id}/complete|uncomplete", None

        # One request per read scenario first: does it answer, and how many tasks match (how rare a search is).
        probes = {s.name: asyncio.run(probe(bases[0] + s.path, token)) for s in chosen if s.read and s.path}
        for name, answer in probes.items():
            print(f"[{dataset}] {name}: {answer}")

        sql_now = datetime.now(timezone.utc)
        statements: dict[str, tuple[str, list[Any]]] = {}
        sources: dict[str, str] = {}
        notes: list[str] = []
        for scenario in chosen:
            if not scenario.read or scenario.path is None:
                continue
            try:
                sql, arguments, source = scenario_sql(scenario, HEAVY_USER, sql_now, task_id,
                                                      ask=lambda query: pg.psql("taskstream", query))
            except Exception as exc:  # a parameter the API rejects, or a query builder with another signature
                notes.append(f"{scenario.name}: no SQL: {type(exc).__name__}: {exc}")
                continue
            statements[scenario.name], sources[scenario.name] = (sql, arguments), source

        pool = stack.enter_context(ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")))
        meters = Meters([w.pid for w, _ in workers], postmaster_pid(pg), broker.process.pid)

        def load(scenario: Scenario | None, on: list[str]) -> dict[str, Any]:
            spec = {"bases": on, "path": scenario.path if scenario else "/",
                    "kind": scenario.kind if scenario else "list", "method": scenario.method if scenario else "GET",
                    "token": token, "ids": complete_ids,
                    "concurrency": args.concurrency, "duration": args.duration, "warmup": args.warmup,
                    "meters": meters}
            return pool.submit(run_load, spec).result()

        runs: dict[str, list[dict[str, Any]]] = {}
        pgbench: dict[str, list[dict[str, Any]]] = {}
        ceiling_runs: list[dict[str, Any]] = []
        drains: list[float] = []
        for run in range(args.runs):
            label = f"[{dataset}] run {run + 1}/{args.runs}"
            ceiling_runs.append(load(None, hello_bases))
            print(f"{label}: hello world {ceiling_runs[-1]['req_per_s']:,.0f} req/s")
            for scenario in chosen:
                if scenario.path is None:
                    continue
                if scenario.name in statements:
                    sql = with_literals(*statements[scenario.name])
                    before = meters.read()
                    bench = run_pgbench(pg, sql, args.duration, args.concurrency,
                                        data_dir / f"pgbench-{scenario.slug}.sql")
                    spent = meters.read()["postgres"] - before["postgres"]
                    bench["postgres_cpu_seconds"] = round(spent, 2)
                    if bench.get("tps"):
                        bench["postgres_cpu_ms_per_tx"] = round(1000 * spent / (bench["tps"] * args.duration), 3)
                    pgbench.setdefault(scenario.name, []).append(bench)
                    print(f"{label}: {scenario.name}: pgbench {fmt(bench.get('tps'), ',.0f')} tps"
                          + (f" ({bench['error'][:200]})" if "error" in bench else ""))
                try:
                    result = load(scenario, bases)
                    if not scenario.read:
                        drains.append(wait_outbox_drained(pg))
                finally:
                    if not scenario.read:  # even after a failure: a kept --data-dir must stay as seeded
                        restore(pg, scenario, complete_ids)
                runs.setdefault(scenario.name, []).append(result)
                print(f"{label}: {scenario.name}: {result['req_per_s']:,.0f} req/s, "
                      f"p99 {fmt(result['p99_ms'], '.1f')} ms, {result['errors']} errors")

        profiles: dict[str, Any] = {}
        if args.profile:
            for scenario in chosen:
                if scenario.path is None:
                    continue
                out = RESULTS / f"profile-{dataset}-{scenario.slug}.txt"
                process, problem = start_profile(workers[0][0].pid, out, args.warmup + args.duration)
                if process is None:
                    profiles[scenario.name] = {"error": problem}
                    break
                try:
                    load(scenario, bases)
                    profiles[scenario.name] = finish_profile(process, out)
                    if not scenario.read:
                        wait_outbox_drained(pg)
                finally:
                    if not scenario.read:
                        restore(pg, scenario, complete_ids)
                print(f"[{dataset}] profiled {scenario.name}: "
                      f"{profiles[scenario.name].get('samples', profiles[scenario.name].get('error'))}")

        plans = explain_plans(pg.url, [(name, sql, args_) for name, (sql, args_) in statements.items()])

    ceiling = statistics.median(r["req_per_s"] for r in ceiling_runs) if ceiling_runs else None
    return {
        "dataset": dataset,
        "seed": seeded,
        "workers": args.workers,
        "scenarios": {s.name: {"method": s.method, "path": s.path, "kind": s.kind, "target": s.target,
                               "unavailable": s.unavailable} for s in chosen},
        "ceiling": {"runs": ceiling_runs, "req_per_s_median": ceiling, "processes": args.workers},
        "runs": runs,
        "pgbench": pgbench,
        "sql": {name: {"sql": sql, "arguments": arguments, "source": sources[name],
                       "pgbench_script": with_literals(sql, arguments)}
                for name, (sql, arguments) in statements.items()},
        "sql_sources": sources,
        "probes": probes,
        "summary": summarize(runs, pgbench, ceiling, dataset, chosen),
        "outbox_drain_seconds": drains,
        "explain": {"plans": plans, "notes": notes},
        "profiles": profiles,
    }


async def probe(url: str, token: str) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        status, body = await get_json(session, url, {"Authorization": f"Bearer {token}"})
    if status != 200 or not isinstance(body, dict):
        return {"status": status, "body": str(body)[:300]}
    if "tasks" not in body:
        return {"status": status}
    return {"status": status, "returned": len(body["tasks"]), "total": body.get("total"),
            "total_exact": body.get("total_exact")}


async def _first_page(base: str, token: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        return await get_json(session, f"{base}/api/tasks?limit=1", {"Authorization": f"Bearer {token}"})


# Main -------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("10k", "1m", "both"), default="both",
                        help="10k: one user with 10,000 tasks; 1m: 1,000,000 tasks, 50,000 for one user")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10, help="seconds of timed load per scenario and run")
    parser.add_argument("--warmup", type=float, default=2, help="untimed seconds of load before each timed run")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes; the load generator spreads its clients over their ports")
    parser.add_argument("--data-dir", default=None,
                        help="keep the seeded databases here, one folder per dataset (reused with --skip-seed)")
    parser.add_argument("--skip-seed", action="store_true", help="use the databases seeded earlier in --data-dir")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed runs, record the (first) worker with py-spy per scenario")
    parser.add_argument("--only", default=None, help="comma-separated scenario names (or parts of them) to run")
    parser.add_argument("--users", type=int, default=1000, help="users in the 1m dataset")
    parser.add_argument("--tasks", type=int, default=1_000_000, help="tasks in the 1m dataset")
    parser.add_argument("--heavy-user", type=int, default=50_000, help="seed-heavy's tasks in the 1m dataset")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.skip_seed and not args.data_dir:
        parser.error("--skip-seed needs --data-dir (the folder an earlier run seeded)")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    all_scenarios = scenarios()
    chosen = all_scenarios
    if args.only:
        wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        chosen = [s for s in all_scenarios if any(w in s.name.lower() for w in wanted)]
    datasets = ["10k", "1m"] if args.dataset == "both" else [args.dataset]
    RESULTS.mkdir(parents=True, exist_ok=True)
    print(f"os.cpu_count() = {os.cpu_count()} (shared by the load generator, pgbench, worker(s), PostgreSQL "
          "and broker)")

    results: list[dict[str, Any]] = []
    out = RESULTS / "queries.json"
    with contextlib.ExitStack() as stack:
        if args.data_dir:
            root = Path(args.data_dir).resolve()
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-queries-")))
        for dataset in datasets:
            # Each dataset gets fresh Scenario objects: the cursor, get and complete paths depend on the data.
            fresh = [s for s in scenarios() if s.name in {c.name for c in chosen}]
            results.append(run_dataset(dataset, root / dataset, fresh, args))
            out.write_text(json.dumps({
                "cpus": os.cpu_count(),
                "note": "load generator, pgbench, worker(s), PostgreSQL and broker share the machine's cores",
                "config": vars(args),
                "targets": TARGETS,
                "datasets": {r["dataset"]: r for r in results},
            }, indent=2, default=str))

    for result in results:
        print_plans(result)
    for result in results:
        if result["profiles"]:
            print_profiles(result)
    for result in results:
        fresh = [s for s in scenarios() if s.name in {c.name for c in chosen}]
        print_table(result, fresh, args)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
