"""The image is small, runs the worker as non-root and checks its own health."""

from __future__ import annotations

import re


def _dockerfile(manifests):
    return (manifests.repo_root / "Dockerfile").read_text()


def _final_stage(text):
    return re.split(r"(?m)^FROM ", text)[-1]


def test_image_is_multi_stage_on_slim_python_311(manifests):
    text = _dockerfile(manifests)
    assert re.search(r"(?m)^ARG PYTHON_IMAGE=python:3\.11-slim", text)
    stages = re.findall(r"(?m)^FROM (\S+) AS (\w+)", text)
    assert [name for _, name in stages] == ["build", "runtime"]
    runtime = _final_stage(text)
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "pip install" not in runtime, "the runtime stage installs nothing itself"
    assert re.search(r"(?m)^RUN pip install \.", text), "the project is installed with `pip install .`"


def test_image_runs_the_worker_as_a_numeric_non_root_user(manifests):
    runtime = _final_stage(_dockerfile(manifests))
    users = re.findall(r"(?m)^USER (\S+)", runtime)
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), "numeric, so runAsNonRoot can be verified"
    assert 'ENTRYPOINT ["taskstream"]' in runtime
    assert 'CMD ["worker", "-l", "info"]' in runtime


def test_image_healthcheck_uses_python_not_curl(manifests):
    runtime = _final_stage(_dockerfile(manifests))
    healthcheck = re.search(r"(?ms)^HEALTHCHECK .*?CMD (\[.*?\])\s*$", runtime)
    assert healthcheck, "no HEALTHCHECK in the runtime stage"
    assert '"python", "-c"' in healthcheck.group(1)
    assert "http://127.0.0.1:%s/health" in healthcheck.group(1)
    instructions = "\n".join(line for line in runtime.splitlines() if not line.lstrip().startswith("#"))
    assert "curl" not in instructions and "wget" not in instructions


def test_build_context_holds_only_what_the_image_needs(manifests):
    rules = [
        line.strip()
        for line in (manifests.repo_root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "an allow-list: everything is excluded unless named"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert {"streams", "agents", "tables", "web", "db", "setup.cfg"} <= allowed
    assert not allowed & {"tests", ".git", ".venv", "kustomize", "helm", ".env"}
