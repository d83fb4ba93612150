"""Our own `taskstream` subcommands: dev, migrate, token, topics, seed, deploy, mcp, api-docs, export and import,
and Faust's worker with --role."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, NoReturn

import click
from faust.cli import AppCommand, argument, option
from faust.cli import worker as faust_worker

from streams.app import app
from streams.settings import WORKER_ROLES, ConfigError, Settings, dev_data_dir, from_env, get_settings


class Command(AppCommand):
    """Our subcommands: a usage or runtime error prints one clear line and exits non-zero, no traceback."""

    exit_code = 0

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            await self.run(*args, **kwargs)
        except click.ClickException as exc:
            exc.show(file=self.stderr)
            self.exit_code = exc.exit_code
        except SystemExit as exc:
            self.exit_code = exc.code if isinstance(exc.code, int) else 1
        finally:
            await self.on_stop()

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            self.run_using_worker(*args, **kwargs)
        except SystemExit as exc:
            raise SystemExit(self.exit_code or exc.code) from None
        raise SystemExit(self.exit_code)


def command(*options: Any) -> Callable:
    return app.command(*options, base=Command)


def data_dir_option() -> Any:
    return option("--data-dir", default=None,
                  help="The data folder of the `taskstream dev` to use (default: DATA_DIR, else .taskstream).")


class worker(faust_worker.worker):
    """Start a worker: the HTTP API, WebSockets and the stream agents (--role all), or one side of them."""

    options = [
        *faust_worker.worker.options,
        option("--role", type=click.Choice(WORKER_ROLES), default=None,
               help="all (default), web (HTTP, WebSockets, the relay) or stream (agents, tables, the relay; "
                    "only /health, /ready and /metrics over HTTP). Sets WORKER_ROLE."),
    ]

    def as_service(self, loop: Any, *args: Any, role: str | None = None, **kwargs: Any) -> Any:
        # The role decided which modules Faust imported before this command line was parsed; the
        # `taskstream` command reads --role first (streams/roles.py), `faust -A streams.app` does not.
        running = get_settings().worker_role
        if role is not None and role != running:
            click.echo(f"Error: --role {role} came too late: the app was loaded for role {running}. Run "
                       f"`taskstream worker --role {role}`, or set WORKER_ROLE={role}", err=True)
            raise SystemExit(2)
        return super().as_service(loop, *args, **kwargs)


@dataclass(frozen=True)
class Target:
    """The settings a command connects with, and where its URLs came from (for error messages)."""

    settings: Settings
    data_dir: str
    #: dev.json's details when a `taskstream dev` ran in data_dir (it may have stopped since).
    dev: dict[str, str]
    #: The URLs the environment set itself, so neither came from dev.json nor from a default.
    configured: frozenset[str]

    def origin(self, key: str) -> str:
        """Why this command uses the URL it uses for KEY, as a clause of an error message."""
        if key in self.configured:
            return f"from {key}"
        if key in self.dev_keys:
            return f"from the `taskstream dev` in {self.data_dir}; is it still running?"
        return (f"the default: {key} is not set and no `taskstream dev` has run in {self.data_dir}; start one, "
                f"pass --data-dir DIR of the running one, or set {key}")

    @property
    def dev_keys(self) -> set[str]:
        return {key for key, field in (("DATABASE_URL", "database_url"), ("KAFKA_BROKER_URL", "broker_url"))
                if self.dev.get(field)}


def _target(data_dir: str | None = None) -> Target:
    """Settings from the environment; URLs not set there come from the `taskstream dev` in the data folder."""
    from .dev import read_dev_file

    env = dict(os.environ)
    env["DATA_DIR"] = dev_data_dir(env, data_dir)
    dev = read_dev_file(env["DATA_DIR"])
    configured = frozenset(key for key in ("DATABASE_URL", "KAFKA_BROKER_URL") if env.get(key, "").strip())
    if "DATABASE_URL" not in configured and dev.get("database_url"):
        env["DATABASE_URL"] = dev["database_url"]
    if "KAFKA_BROKER_URL" not in configured and dev.get("broker_url"):
        env["KAFKA_BROKER_URL"] = dev["broker_url"]
    try:
        settings = from_env(env)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    return Target(settings, env["DATA_DIR"], dev, configured)


@command(option("--data-dir", default=None,
                help="Where embedded data is kept (default: DATA_DIR, else .taskstream)."))
async def dev(self, data_dir: str | None) -> None:
    """Run the whole system locally (embedded PostgreSQL and broker unless DATABASE_URL/KAFKA_BROKER_URL are set)."""
    from .dev import run

    code = await run(Path(dev_data_dir(os.environ, data_dir)))
    if code:
        raise SystemExit(code)


@command(option("--down", "down", default=None, help="Downgrade to this revision instead (e.g. base)."),
         data_dir_option())
async def migrate(self, down: str | None, data_dir: str | None) -> None:
    """Upgrade the database schema to the latest revision (or downgrade with --down REV)."""
    from db import migrate as migrations
    from db.engine import redact_url

    found = _target(data_dir)
    settings = found.settings
    target = redact_url(settings.database_url)
    try:
        if down:
            await asyncio.to_thread(migrations.downgrade, settings.database_url, down)
            self.say(f"database {target} downgraded to {down}")
        else:
            await asyncio.to_thread(migrations.upgrade, settings.database_url)
            self.say(f"database {target} is at the latest revision")
    except OSError as exc:
        raise click.ClickException(
            f"cannot reach the database at {target} ({found.origin('DATABASE_URL')}): {exc}") from None


@command(
    argument("user_id"),
    option("--ttl", type=int, default=24 * 3600, show_default=True, help="Seconds until the token expires."),
    data_dir_option(),
)
async def token(self, user_id: str, ttl: int, data_dir: str | None) -> None:
    """Print a signed JWT for USER_ID (on the last line)."""
    from web.auth import MissingSecret, issue_token

    if ttl < 1:
        raise click.BadParameter("must be at least 1 second", param_hint="--ttl")
    if not user_id.strip() or len(user_id) > 255:
        raise click.BadParameter("must be 1-255 characters", param_hint="USER_ID")
    try:
        print(issue_token(user_id, ttl=ttl, settings=_target(data_dir).settings))
    except MissingSecret as exc:
        raise click.ClickException(f"{exc} (or pass --data-dir)") from None


@command(
    argument("action", type=click.Choice(["list", "tail"])),
    argument("topic", required=False),
    option("--from-beginning", is_flag=True, help="Read from the first retained message."),
    option("--user", "user", default=None, help="Only messages keyed by this user id."),
    option("--follow", is_flag=True, help="Keep printing new messages until interrupted."),
    data_dir_option(),
)
async def topics(self, action: str, topic: str | None, from_beginning: bool, user: str | None, follow: bool,
                 data_dir: str | None) -> None:
    """List topics, or print a topic's messages as decoded JSON lines (with partition and offset)."""
    found = _target(data_dir)
    if action == "tail" and not topic:
        raise click.UsageError("tail needs a topic name, e.g. `taskstream topics tail task-events`")
    _require_broker(found)
    if action == "list":
        await _list_topics(found)
        return
    await _tail(found, topic, from_beginning=from_beginning, user=user, follow=follow)


def _require_broker(found: Target) -> None:
    """One clear line instead of the client's retries and traceback when no broker listens at the URL."""
    from streams.kafka import bootstrap_servers

    from .embedded import port_open

    url = found.settings.kafka_broker_url
    for server in bootstrap_servers(url):
        host, _, port = server.rpartition(":")
        if host and port.isdigit() and port_open(int(port), host.strip("[]"), timeout=2.0):
            return
    raise click.ClickException(f"cannot reach the broker at {url} ({found.origin('KAFKA_BROKER_URL')})")


async def _start(consumer, found: Target) -> None:
    from aiokafka.errors import KafkaConnectionError

    try:
        await consumer.start()
    except KafkaConnectionError as exc:
        url = found.settings.kafka_broker_url
        raise click.ClickException(
            f"cannot reach the broker at {url} ({found.origin('KAFKA_BROKER_URL')}): {exc}") from None


async def _list_topics(found: Target) -> None:
    from aiokafka import AIOKafkaConsumer

    from streams.kafka import client_options

    consumer = AIOKafkaConsumer(**client_options(found.settings), enable_auto_commit=False)
    await _start(consumer, found)
    try:
        names = sorted(await consumer.topics())
        for name in names:
            partitions = consumer.partitions_for_topic(name) or set()
            print(json.dumps({"topic": name, "partitions": len(partitions)}))
    finally:
        await consumer.stop()


def _decode(raw: bytes | None):
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", errors="replace")


async def _tail(found: Target, topic: str, *, from_beginning: bool, user: str | None, follow: bool) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.kafka import client_options

    # No group: a tail never moves anybody's committed offsets.
    consumer = AIOKafkaConsumer(**client_options(found.settings), enable_auto_commit=False, group_id=None)
    await _start(consumer, found)
    try:
        # Check the full topic list first: asking for one topic's metadata may auto-create it.
        partitions = consumer.partitions_for_topic(topic) if topic in await consumer.topics() else None
        if not partitions:
            raise click.ClickException(f"topic {topic!r} does not exist; see `taskstream topics list`")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        if from_beginning:
            await consumer.seek_to_beginning(*assigned)
        else:
            await consumer.seek_to_end(*assigned)
        ends = await consumer.end_offsets(assigned)
        remaining = {tp for tp in assigned if from_beginning and ends[tp] > await consumer.position(tp)}
        if not follow and not remaining:
            return
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                for message in messages:
                    key = message.key.decode("utf-8", errors="replace") if message.key is not None else None
                    if user is None or key == user:
                        print(json.dumps({
                            "topic": tp.topic, "partition": tp.partition, "offset": message.offset, "key": key,
                            "timestamp": datetime.fromtimestamp(message.timestamp / 1000, timezone.utc).isoformat(),
                            "value": _decode(message.value),
                        }), flush=True)
                    # The fetch's high-water mark: the embedded broker's end offsets fall short after
                    # multi-record batches (see streams/producer.py).
                    if message.offset + 1 >= max(ends[tp], consumer.highwater(tp) or 0):
                        remaining.discard(tp)
            if not follow and not remaining:
                return
    finally:
        await consumer.stop()


@command(
    option("--users", type=int, default=1000, show_default=True, help="Users in all, seed-heavy included."),
    option("--tasks", type=int, default=1_000_000, show_default=True, help="Tasks in all."),
    option("--heavy-user", "heavy_user", type=int, default=50_000, show_default=True,
           help="Tasks of the user seed-heavy; the rest are spread over seed-user-0000 and on."),
    option("--seed", "seed_value", type=int, default=42, show_default=True,
           help="Random seed: the same seed gives the same tasks (times relative to now)."),
    option("--database-url", default=None,
           help="Default: DATABASE_URL, or the database of a running `taskstream dev`."),
    option("--replace", is_flag=True, help="Delete the tasks of every seed-* user first."),
    data_dir_option(),
)
async def seed(self, users: int, tasks: int, heavy_user: int, seed_value: int, database_url: str | None,
               replace: bool, data_dir: str | None) -> None:
    """Bulk-load reproducible test tasks (users seed-heavy, seed-user-NNNN) for benchmarks.

    The rows are written with COPY straight into the tasks table: they BYPASS the audit trail and the
    outbox (no task_events rows, no events on the broker). Refuses to run when the seed users already
    have tasks, unless --replace.
    """
    from db.engine import redact_url
    from streams.settings import normalize_database_url

    from . import seed as seeding

    try:
        found = None if database_url else _target(data_dir)
        url = normalize_database_url(database_url) if found is None else found.settings.database_url
        plan = seeding.SeedPlan(now=datetime.now(timezone.utc), users=users, tasks=tasks, heavy_user=heavy_user,
                                seed=seed_value)
    except (ConfigError, seeding.SeedError) as exc:
        raise click.UsageError(str(exc)) from None
    target = redact_url(url)
    try:
        report = await seeding.load(url, plan, replace=replace)
    except seeding.SeedError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        origin = "from --database-url" if found is None else found.origin("DATABASE_URL")
        raise click.ClickException(f"cannot reach the database at {target} ({origin}): {exc}") from None
    replaced = f" (replaced {report.deleted:,} seed tasks)" if replace else ""
    self.say(
        f"seeded {report.rows:,} tasks for {report.users:,} users into {target}{replaced} in "
        f"{report.copy_seconds:.1f} s ({report.rows_per_second:,.0f} rows/s); "
        f"VACUUM (ANALYZE) took {report.analyze_seconds:.1f} s"
    )


@command(
    argument("action", type=click.Choice(["verify"])),
    option("--namespace", required=True, help="Namespace of the release."),
    option("--selector", default="app.kubernetes.io/name=taskstream", show_default=True,
           help="Label selector of the release's workloads."),
    option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for the rollout."),
    option("--context", default=None, help="kubeconfig context (default: in-cluster, then the current context)."),
)
async def deploy(self, action: str, namespace: str, selector: str, timeout: float, context: str | None) -> None:
    """Wait for a rollout to become healthy; exit 0 healthy, 1 failed, 2 timed out (with a summary)."""
    from .deploy import KubeConfigError, load_kube_clients, verify_rollout

    try:
        apps_api, core_api, batch_api = load_kube_clients(context)
    except KubeConfigError as exc:
        raise click.ClickException(str(exc)) from None
    raise SystemExit(await asyncio.to_thread(
        verify_rollout, namespace, selector, timeout, apps_api=apps_api, core_api=core_api, batch_api=batch_api
    ))


class DirectCommand(Command):
    """A subcommand that runs on its own event loop, without a Faust worker around it.

    `taskstream mcp` speaks JSON-RPC on stdout: nothing else may write there, and it needs neither the
    broker nor the worker's services.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            asyncio.run(self.execute(*(self.args + args), **{**self.kwargs, **kwargs}))
        except KeyboardInterrupt:
            pass
        raise SystemExit(self.exit_code)


@app.command(
    option("--transport", type=click.Choice(["stdio", "streamable-http"]), default="stdio", show_default=True,
           help="stdio for a local assistant; streamable-http to serve MCP over HTTP on --host/--port."),
    option("--host", default="127.0.0.1", show_default=True, help="Address for --transport streamable-http."),
    option("--port", type=int, default=8765, show_default=True, help="Port for --transport streamable-http."),
    data_dir_option(),
    base=DirectCommand,
)
async def mcp(self, transport: str, host: str, port: int, data_dir: str | None) -> None:
    """Serve the task tools to AI assistants (MCP) as the user of TASKSTREAM_TOKEN, against TASKSTREAM_URL.

    TASKSTREAM_URL defaults to the web_url of the `taskstream dev` in --data-dir (or DATA_DIR, else
    .taskstream), else http://127.0.0.1:6066; TASKSTREAM_TIMEZONE (IANA, default UTC) is how natural
    dates such as "tomorrow 5pm" are read.
    """
    from .mcp.server import McpConfig, serve

    try:
        config = McpConfig.from_env({**os.environ, "DATA_DIR": dev_data_dir(os.environ, data_dir)})
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not 1 <= port <= 65535:
        raise click.BadParameter("must be 1-65535", param_hint="--port")
    await serve(config, transport=transport, host=host, port=port)


@app.command(
    option("--output", "-o", "output", default=None, type=click.Path(dir_okay=False, writable=True),
           help="Write to this file instead of printing."),
    option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True,
           help="markdown, or the HTML page GET /docs serves."),
    base=DirectCommand,
)
async def api_docs(self, output: str | None, fmt: str) -> None:
    """Print the API reference (every operation, its parameters, body, responses and error codes) from the
    OpenAPI document. Needs neither the database nor the broker."""
    from web.apidocs import markdown, render_html
    from web.openapi import document

    text = (markdown if fmt == "markdown" else render_html)(document())
    if _write_output(text, output):
        self.say(f"wrote the API reference ({fmt}) to {output}")


#: How often `taskstream import` reports its progress, in tasks.
PROGRESS_EVERY = 500


def _write_output(text: str, output: str | None) -> bool:
    """`text` to the file `output`, or to stdout without one; whether it went to a file."""
    if output is None:
        print(text, end="")
        return False
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    return True


def _user(user_id: str) -> str:
    if not user_id.strip() or len(user_id) > 255:
        raise click.BadParameter("must be 1-255 characters", param_hint="--user")
    return user_id


async def _with_database(data_dir: str | None, work: Callable[[Any], Any]) -> Any:
    """Run `work(database)` against DATABASE_URL (or the running `taskstream dev`), with a clear unreachable error."""
    from db.engine import Database, redact_url

    found = _target(data_dir)
    database = Database(found.settings.database_url, pool_size=1)
    try:
        return await work(database)
    except OSError as exc:
        raise click.ClickException(f"cannot reach the database at {redact_url(found.settings.database_url)} "
                                   f"({found.origin('DATABASE_URL')}): {exc}") from None
    finally:
        await database.dispose()


@app.command(
    option("--user", "user_id", required=True, help="The user id (a token's sub) whose data to export."),
    option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
           help="json: everything (what `taskstream import` and POST /api/import read); csv: the tasks."),
    option("--output", "-o", "output", default=None, type=click.Path(dir_okay=False, writable=True),
           help="Write to this file instead of printing."),
    data_dir_option(),
    base=DirectCommand,
)
async def export(self, user_id: str, fmt: str, output: str | None, data_dir: str | None) -> None:
    """Export one user's data from the database (DATABASE_URL), as GET /api/export does, without a size limit."""
    from db import transfer

    user_id = _user(user_id)

    async def read(database) -> str:
        async with database.transaction() as session:
            if fmt == "csv":
                return await transfer.export_csv(session, user_id)
            document = await transfer.export_document(session, user_id, now=datetime.now(timezone.utc))
            self.say(f"exporting {len(document['tasks']):,} tasks of {user_id}", file=self.stderr)
            return json.dumps(document, indent=1) + "\n"

    text = await _with_database(data_dir, read)
    if _write_output(text, output):
        self.say(f"wrote the {fmt} export of {user_id} to {output}", file=self.stderr)


async def import_(self, user_id: str, file: str, data_dir: str | None) -> None:
    """Import FILE (a JSON export, or a Todoist CSV export) into a user's account, through the normal write
    path (audit trail and outbox: a running worker publishes the changes). Importing it again creates nothing."""
    from db import transfer
    from web.errors import ValidationError
    from web.validation.transfer import document_plan, todoist_plan
    from web.views.saved_views import view_query

    user_id = _user(user_id)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    now = datetime.now(timezone.utc)
    try:
        if text.lstrip().startswith("{"):
            try:
                document = json.loads(text)
            except ValueError as exc:
                raise click.ClickException(f"{file} is not valid JSON: {exc}") from None
            plan = document_plan(document, view_query=view_query)
        else:
            plan = todoist_plan(text, now=now)
    except ValidationError as exc:
        raise click.ClickException(f"{file}: {exc.message}") from None

    def progress(done: int, total: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            self.say(f"{done:,} of {total:,} tasks", file=self.stderr)

    async def write(database) -> transfer.Outcome:
        async with database.transaction() as session:
            return await transfer.apply_plan(session, user_id, plan, now=now, progress=progress)

    outcome = await _with_database(data_dir, write)
    print(json.dumps(outcome.report(), indent=1))
    created = ", ".join(f"{count:,} {kind.replace('_', ' ')}" for kind, count in outcome.created.items() if count)
    self.say(f"imported into {user_id}: {created or 'nothing new'}; {len(outcome.skipped):,} skipped",
             file=self.stderr)


import_.__name__ = import_.__qualname__ = "import"  # the command is `taskstream import`; import is a keyword
import_ = app.command(
    argument("file", type=click.Path(exists=True, dir_okay=False)),
    option("--user", "user_id", required=True, help="The user id (a token's sub) to import into."),
    data_dir_option(),
    base=DirectCommand,
)(import_)


__all__ = ["api_docs", "deploy", "dev", "export", "import_", "mcp", "migrate", "seed", "token", "topics"]
