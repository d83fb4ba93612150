"""The command line: `taskstream dev`, `token`, `migrate` and `topics` as a user runs them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import jwt
import pytest

from streams.cli.embedded import free_port, port_open

pytestmark = pytest.mark.integration

TASKSTREAM = [sys.executable, "-c", "from streams.app import main; main()"]


def run(*args: str, env: dict[str, str], timeout: float = 60, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*TASKSTREAM, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=cwd)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BROKER_URL", "JWT_SECRET",
                                                           "KAFKA_PROFILE", "WEB_PORT", "DATA_DIR",
                                                           "LOG_FORMAT", "LOG_LEVEL"}}
    return {**env, **extra}


def http_json(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def wait_for_banner(dev: subprocess.Popen, log_path, timeout: float = 30) -> str:
    """The output once the start banner is complete (it is printed right after dev.json is written)."""
    deadline = time.monotonic() + timeout
    while "Ctrl-C stops everything" not in (output := log_path.read_text()):
        assert dev.poll() is None and time.monotonic() < deadline, output[-3000:]
        time.sleep(0.1)
    return output


def test_dev_starts_everything_serves_the_api_and_stops_cleanly_keeping_data(tmp_path):
    data_dir = tmp_path / "dev"
    port = free_port()
    env = clean_env(WEB_PORT=str(port))
    log = open(tmp_path / "dev.log", "w")
    started = time.monotonic()
    dev = subprocess.Popen([*TASKSTREAM, "dev", "--data-dir", str(data_dir)], env=env, stdout=log,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not (data_dir / "dev.json").exists():
            assert dev.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "taskstream dev did not become ready"
            time.sleep(0.1)
        ready_after = time.monotonic() - started
        info = json.loads((data_dir / "dev.json").read_text())
        assert info["web_url"] == f"http://127.0.0.1:{port}"
        assert info["database_url"].startswith("postgresql+asyncpg://") and info["broker_url"].startswith("kafka://")
        output = wait_for_banner(dev, tmp_path / "dev.log")
        printed_token = output.split("#token=", 1)[1].split()[0]
        assert jwt.decode(printed_token, options={"verify_signature": False})["sub"] == "demo"

        # A person reads this: a short start of readable lines, not ~100 JSON objects.
        lines = [line for line in output.splitlines() if line.strip()]
        assert not [line for line in lines if line.lstrip().startswith("{")], output
        assert len(lines) <= 12, output
        assert any(line.startswith("taskstream is ready") and line.endswith(info["web_url"]) for line in lines)
        assert f"dashboard: {info['web_url']}/#token={printed_token}" in output
        assert f"data:      {data_dir}" in output
        logged = [line for line in lines if re.match(r"\d\d:\d\d:\d\d (INFO|WARNING|ERROR) ", line)]
        assert any("joined the consumer group" in line for line in logged), output

        status, task = http_json("POST", f"{info['web_url']}/api/tasks", printed_token, {"title": "from dev"})
        assert status == 201

        # `taskstream token` in the same data folder signs with the same (generated, kept) secret.
        token = run("token", "demo", env=clean_env(DATA_DIR=str(data_dir))).stdout.strip().splitlines()[-1]
        status, listing = http_json("GET", f"{info['web_url']}/api/tasks", token)
        assert [t["title"] for t in listing["tasks"]] == ["from dev"]
        print(f"taskstream dev ready after {ready_after:.1f} s")
    finally:
        dev.send_signal(signal.SIGTERM)
        code = dev.wait(60)
        log.close()
    assert code == 0
    assert not port_open(port), "the worker stopped"
    broker_port = int(info["broker_url"].rsplit(":", 1)[1])
    pg_port = int(info["database_url"].split("@127.0.0.1:", 1)[1].split("/", 1)[0])
    assert not port_open(broker_port) and not port_open(pg_port), "embedded services stopped"

    # Running it again keeps the data.
    port = free_port()
    dev = subprocess.Popen([*TASKSTREAM, "dev", "--data-dir", str(data_dir)], env=clean_env(WEB_PORT=str(port)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        (data_dir / "dev.json").unlink()
        deadline = time.monotonic() + 90
        while not (data_dir / "dev.json").exists() and time.monotonic() < deadline and dev.poll() is None:
            time.sleep(0.1)
        _, listing = http_json("GET", f"http://127.0.0.1:{port}/api/tasks", token)
        assert [t["title"] for t in listing["tasks"]] == ["from dev"]
    finally:
        dev.send_signal(signal.SIGTERM)
        dev.wait(60)


def test_dev_with_log_format_json_keeps_the_worker_logs_json(tmp_path):
    data_dir = tmp_path / "dev"
    log_path = tmp_path / "dev.log"
    dev = start_dev(data_dir, clean_env(WEB_PORT=str(free_port()), LOG_FORMAT="json"), log_path, tmp_path)
    try:
        output = wait_for_banner(dev, log_path)
    finally:
        stop_dev(dev)
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(entry["logger"] == "streams.app" and "joined the consumer group" in entry["message"]
               for entry in logged), output[-3000:]
    assert any(entry["logger"].startswith("faust.") for entry in logged), "nothing left out: JSON is for collectors"
    assert "#token=" in output, "the start banner is still printed"


def start_dev(data_dir, env: dict[str, str], log_path, cwd) -> subprocess.Popen:
    """`taskstream dev --data-dir data_dir`, returned once its dev.json says it is ready."""
    log = open(log_path, "w")
    dev = subprocess.Popen([*TASKSTREAM, "dev", "--data-dir", str(data_dir)], env=env, stdout=log,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd)
    log.close()
    deadline = time.monotonic() + 90
    while not (data_dir / "dev.json").exists():
        if dev.poll() is not None or time.monotonic() > deadline:
            stop_dev(dev)
            pytest.fail(f"taskstream dev did not become ready:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    return dev


def stop_dev(dev: subprocess.Popen) -> None:
    dev.send_signal(signal.SIGTERM)
    try:
        dev.wait(60)
    except subprocess.TimeoutExpired:
        dev.kill()
        dev.wait(10)


def only_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, "one line, not the client's retries and a traceback:\n" + "\n".join(lines[:80])
    return lines[0]


@pytest.mark.timeout(600)  # a dev stack and five commands, each a fresh Python process
async def test_token_topics_seed_and_mcp_find_the_dev_stack_of_their_data_dir(tmp_path):
    # An earlier `taskstream dev` left ./.taskstream behind with a secret of its own: a command that
    # reads it instead of --data-dir signs tokens the running stack refuses with 401.
    cwd = tmp_path / "project"
    (cwd / ".taskstream").mkdir(parents=True)
    (cwd / ".taskstream" / "jwt-secret").write_text("an-old-secret-that-the-running-stack-never-saw")
    data_dir = tmp_path / "elsewhere"
    port = free_port()
    dev = start_dev(data_dir, clean_env(WEB_PORT=str(port)), tmp_path / "dev.log", cwd)
    try:
        url = json.loads((data_dir / "dev.json").read_text())["web_url"]
        issued = run("token", "demo", "--data-dir", str(data_dir), env=clean_env(), cwd=cwd)
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip().splitlines()[-1]
        status, _ = http_json("POST", f"{url}/api/tasks", token, {"title": "via --data-dir"})
        assert status == 201

        listing = run("topics", "list", "--data-dir", str(data_dir), env=clean_env(), cwd=cwd)
        assert listing.returncode == 0, listing.stderr[-3000:]
        assert "task-events" in {json.loads(line)["topic"] for line in listing.stdout.splitlines()}

        seeded = run("seed", "--users", "2", "--tasks", "3", "--heavy-user", "1", "--data-dir", str(data_dir),
                     env=clean_env(), cwd=cwd)
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        assert "seeded 3 tasks" in seeded.stdout + seeded.stderr

        from mcp import ClientSession, StdioServerParameters, stdio_client

        command = [*TASKSTREAM, "mcp", "--data-dir", str(data_dir)]
        params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(cwd),
                                       env=clean_env(TASKSTREAM_TOKEN=token))
        with open(tmp_path / "mcp.log", "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool("list_tasks", {})
        assert not result.is_error, result.content
        assert [t["title"] for t in result.structured_content["tasks"]] == ["via --data-dir"]
    finally:
        stop_dev(dev)

    # The stack is gone, its dev.json stays: one line naming the broker it tried and why, not a traceback.
    stopped = run("topics", "list", "--data-dir", str(data_dir), env=clean_env(), cwd=cwd)
    assert stopped.returncode != 0
    assert "cannot reach the broker" in only_line(stopped) and str(data_dir) in only_line(stopped)


def test_topics_without_a_running_stack_or_a_broker_url_says_so_in_one_line(tmp_path):
    nobody = f"kafka://127.0.0.1:{free_port()}"
    result = run("topics", "list", env=clean_env(KAFKA_BROKER_URL=nobody), cwd=tmp_path)
    assert result.returncode != 0
    assert "cannot reach the broker" in only_line(result) and "KAFKA_BROKER_URL" in only_line(result)

    result = run("topics", "tail", "task-events", "--data-dir", str(tmp_path / "nothing-here"), env=clean_env(),
                 cwd=tmp_path)
    assert result.returncode != 0
    line = only_line(result)
    assert "cannot reach the broker" in line and "no `taskstream dev` has run in" in line and "--data-dir" in line


def test_token_prints_a_verifiable_jwt_on_the_last_line():
    secret = "cli-test-secret-0123456789abcdefghijkl"
    result = run("token", "alice", "--ttl", "120", env=clean_env(JWT_SECRET=secret, JWT_ISSUER="ts", JWT_AUDIENCE="web"))
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip().splitlines()[-1], secret, algorithms=["HS256"], audience="web",
                        issuer="ts")
    assert claims["sub"] == "alice" and claims["exp"] - claims["iat"] == 120


def test_token_without_any_secret_says_what_to_set(tmp_path):
    result = run("token", "alice", env=clean_env(DATA_DIR=str(tmp_path)))
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr + result.stdout


def test_migrate_reports_an_unreachable_database_without_its_password():
    url = f"postgresql://admin:hunter2secret@127.0.0.1:{free_port()}/nothing"
    result = run("migrate", env=clean_env(DATABASE_URL=url), timeout=60)
    assert result.returncode != 0
    assert "cannot reach the database" in result.stderr + result.stdout
    assert "hunter2secret" not in result.stderr + result.stdout


async def test_topics_list_and_tail_print_decoded_json_lines(api, broker):
    task = await api.create(title="tail me")
    env = clean_env(KAFKA_BROKER_URL=broker.url)
    listing = run("topics", "list", env=env)
    assert listing.returncode == 0, listing.stderr
    names = {json.loads(line)["topic"] for line in listing.stdout.splitlines()}
    assert {"task-events", "task-updates", "reminders"} <= names

    deadline = time.monotonic() + 20
    lines: list[dict] = []
    while time.monotonic() < deadline and not lines:
        tail = run("topics", "tail", "task-events", "--from-beginning", "--user", api.user_id, env=env)
        assert tail.returncode == 0, tail.stderr
        lines = [json.loads(line) for line in tail.stdout.splitlines()]
        if not lines:
            time.sleep(0.5)
    assert len(lines) == 1
    assert lines[0]["key"] == api.user_id and lines[0]["value"]["task_id"] == task["id"]
    assert {"partition", "offset", "timestamp"} <= set(lines[0])

    missing = run("topics", "tail", "no-such-topic", env=env)
    assert missing.returncode != 0 and "does not exist" in missing.stderr + missing.stdout
