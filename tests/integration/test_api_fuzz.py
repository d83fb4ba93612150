"""Schemathesis fuzzes every operation of the app's own /openapi.json against a real worker.

What it protects: no input, however hostile, gets a 5xx, and every answer is what the document says
(status code, content type, headers, body schema). All of Schemathesis' phases run: the document's
examples, boundary values (coverage), random valid and invalid inputs (fuzzing), and stateful chains
that follow the document's links (POST /api/tasks -> PATCH/DELETE /api/tasks/{task_id}, ...).

It runs the `st` command line rather than the pytest plugin: the plugin's fixture-loaded schemas do not
work with this pytest, and the command runs every phase with one budget. Generation is deterministic, so
a failure reproduces run after run (the report prints a curl line for each), and the budget keeps this
file to well under a minute or two on two cores.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from stack import Worker, make_token

from web.openapi.registry import CREATES

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent

#: Every response goes through these. use_after_free and ensure_resource_availability are stateful:
#: a deleted thing stays gone, a created one is readable; ignored_auth: no /api route answers
#: without a valid token; negative_data_rejection: input the document forbids never gets a 2xx.
CHECKS = (
    "not_a_server_error",
    "negative_data_rejection",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
)
#: Random examples per operation in the fuzzing phase; the other phases add their own cases.
MAX_EXAMPLES = 25
#: The stateful phase: scenarios (chains of calls along the document's links) and their length.
STATEFUL = """\
[phases.stateful]
max-steps = 10
[phases.stateful.generation]
max-examples = 60
"""
#: A safety net only: the budget above takes well under a minute on an idle machine. (Not `--max-time`:
#: with it, fuzzing and stateful testing repeat until the time is spent.)
MAX_SECONDS = 300


@pytest.fixture(scope="module")
def fuzz_worker(postgres, broker, tmp_path_factory) -> Iterator[Worker]:
    """A worker of its own, without rate limiting: the fuzzer sends thousands of requests on purpose."""
    process = Worker(
        database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("fuzz-worker"),
        extra_env={"RATE_LIMIT": "off"},
    ).start()
    yield process
    process.stop()


def get(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def errors(worker: Worker) -> str:
    """The worker's logged errors (a 500's traceback), the last few."""
    lines = [line for line in worker.log_path.read_text(errors="replace").splitlines() if '"level": "error"' in line]
    return "\n".join(lines[-10:]) or "(none)"


def schemathesis_command(url: str, token: str, report: Path, config: Path) -> list[str]:
    return [
        str(Path(sys.executable).with_name("st")), "--config-file", str(config), "run", f"{url}/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", ",".join(CHECKS),
        "--phases", "examples,coverage,fuzzing,stateful",
        "--mode", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",  # also: no example database left behind
        "--request-timeout", "15",
        "--workers", "1",
        "--no-color",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]


def test_every_operation_answers_as_documented_and_never_with_a_server_error(fuzz_worker, tmp_path):
    # A fresh user: what other tests created never shows up, and what the fuzzer creates stays its own.
    token = make_token(f"fuzz-{uuid.uuid4()}")
    report = tmp_path / "events.ndjson"
    config = tmp_path / "schemathesis.toml"
    config.write_text(STATEFUL)
    # fuzz_hooks.py points every webhook the fuzzer creates at a closed loopback port.
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(
        schemathesis_command(fuzz_worker.url, token, report, config), cwd=tmp_path, capture_output=True, text=True,
        timeout=MAX_SECONDS, stdin=subprocess.DEVNULL, env=env,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis found failures:\n{output}\n--- worker errors ---\n{errors(fuzz_worker)}"

    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    assert summary and int(summary[1]) > 1000, f"the run generated too few cases:\n{output}"
    assert re.search(r"Tested:\s+(\d+)", output)[1] == re.search(r"Selected:\s+(\d+)/", output)[1], output
    assert "Stateful (disabled)" not in output and "✅ Stateful" in output, output
    links = re.search(r"API Links:\s+(\d+) covered", output)
    assert links and int(links[1]) >= len(CREATES), f"stateful chains followed too few links:\n{output}"
    assert report.stat().st_size > 0
    hooks = get(f"{fuzz_worker.url}/api/webhooks", token)["webhooks"]
    assert hooks, "the fuzzer created no webhook: the hook that confines them went untested"
    assert {urlsplit(hook["url"]).hostname for hook in hooks} == {"127.0.0.1"}, "a webhook points off the machine"
    print(output)  # the summary, for the CI log (shown with -rA or on failure)


def test_the_document_links_every_create_to_what_can_be_done_with_it(fuzz_worker):
    """The links the stateful phase follows: without them it could only guess ids and get 404s."""
    document = get(f"{fuzz_worker.url}/openapi.json")
    created = document["paths"]["/api/tasks"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in created.values()} >= {
        "getTask", "updateTask", "deleteTask", "completeTask", "uncompleteTask", "getTaskAudit",
    }
    assert all(link["parameters"] == {"task_id": "$response.body#/id"} for link in created.values())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters" and operation["operationId"] in CREATES:
                assert operation["responses"]["201"]["links"], f"{method.upper()} {path} links to nothing"
