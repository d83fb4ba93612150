"""Fixtures for the deployment tests: rendered Kustomize and Helm manifests, tools.

Kustomize output comes from `kubectl kustomize`. Helm output comes from
helm-sdkpy, which offers Lint but no template/dry-run action; its Lint runs
Helm's real template engine in "lint mode", where `fail` logs its message
instead of aborting. `render_chart` uses that: it lints a throw-away copy of
the chart holding one extra template that `fail`s with the `tpl`-rendered text
of each real template, and reads the rendered manifests back from the log.
Same engine, same helpers, same values as `helm template` would use.

External tools are looked up once; a missing one skips the tests that need it
with the package to install, except under CI=true, where it fails them.
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from ci_env import in_ci

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
KUSTOMIZE = REPO_ROOT / "kustomize"
CHART = REPO_ROOT / "helm" / "taskstream"

#: Every kustomization that must build, by a short name.
KUSTOMIZATIONS = {
    "base": KUSTOMIZE / "base",
    "minikube": KUSTOMIZE / "overlays" / "minikube",
    "minikube-infra": KUSTOMIZE / "overlays" / "minikube" / "infra",
    "production": KUSTOMIZE / "overlays" / "production",
    # A Component, included by production: alert rules, dashboards, logging config.
    "monitoring-component": KUSTOMIZE / "components" / "monitoring",
}
#: Renders of the app (the dev infrastructure alone has no taskstream workload).
APP_KUSTOMIZATIONS = ("base", "minikube", "production")
#: Values files of the chart; "default" is values.yaml alone.
VALUES_FILES = {
    "default": None,
    "minikube": "values-minikube.yaml",
    "production": "values-production.yaml",
}
#: Every rendered app configuration, for tests that hold for both tools.
ALL_RENDERS = [f"kustomize-{name}" for name in APP_KUSTOMIZATIONS] + [f"helm-{name}" for name in VALUES_FILES]

_RENDER_MARK = "<<<rendered "
#: Helm's lint severity of errors (helm.sh/helm pkg/lint/support: ErrorSev).
LINT_ERROR = 3
_RENDER_SOURCE_DIR = "render-source"


def tool_missing(message: str) -> None:
    """Skip the calling test because a tool is missing; fail instead when CI=true."""
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing tool is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


def find_executable(name: str) -> str | None:
    """An executable on PATH or beside this Python (a venv's bin/, where pip puts wrappers)."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=search)


def require_executable(name: str, install: str) -> str:
    path = find_executable(name)
    if path is None:
        tool_missing(f"`{name}` not found: {install}")
    return path


def require_module(module: str, install: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        tool_missing(f"Python module {module!r} not found: {install}")


def kubectl() -> str:
    return require_executable("kubectl", "install the kubectl package (it bundles kustomize)")


# --- Kustomize ---------------------------------------------------------------


@functools.cache
def _kustomize_build(name: str) -> tuple[str, str, int]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(KUSTOMIZATIONS[name])], capture_output=True, text=True, timeout=60
    )
    return result.stdout, result.stderr, result.returncode


def kustomize_build(name: str) -> list[dict[str, Any]]:
    """The documents `kubectl kustomize` renders for one kustomization (fails the test on error)."""
    stdout, stderr, returncode = _kustomize_build(name)
    if returncode != 0:
        pytest.fail(f"kubectl kustomize {KUSTOMIZATIONS[name].relative_to(REPO_ROOT)} failed:\n{stderr}")
    return copy.deepcopy([doc for doc in yaml.safe_load_all(stdout) if doc])


# --- Helm ----------------------------------------------------------------------


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of a values file over the chart defaults: maps merge, a null deletes."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def helm_values(values_name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """values.yaml with a values file (and test overrides) on top, as `helm -f` would see them."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    values_file = VALUES_FILES[values_name]
    if values_file is not None:
        values = deep_merge(values, yaml.safe_load((CHART / values_file).read_text()) or {})
    return deep_merge(values, overrides or {})


def _require_helm_sdkpy() -> None:
    require_module("helm_sdkpy", "pip install --ignore-requires-python helm-sdkpy")


def _chart_copy(workdir: Path, name: str, values: dict[str, Any]) -> Path:
    """The chart under workdir/name with `values` as its values.yaml (what `helm lint -f` checks)."""
    target = workdir / name / CHART.name
    shutil.copytree(CHART, target)
    (target / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    return target


def _rendered_templates(chart: Path) -> list[str]:
    """Templates that produce output (manifests and NOTES.txt), relative to templates/."""
    return sorted(
        path.relative_to(chart / "templates").as_posix()
        for path in (chart / "templates").rglob("*")
        if path.is_file() and path.suffix in (".yaml", ".txt")
    )


def _add_render_capture(chart: Path) -> None:
    """Turn a chart copy into one whose lint logs every template's rendered text."""
    lines = []
    for relative in _rendered_templates(chart):
        source = chart / _RENDER_SOURCE_DIR / relative
        source.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(chart / "templates" / relative, source)
        # Go string literals take JSON's escapes.
        mark, name, path = (json.dumps(s) for s in (_RENDER_MARK, relative, f"{_RENDER_SOURCE_DIR}/{relative}"))
        lines.append(f'{{{{- fail (printf "%s%s\\n%s" {mark} {name} (tpl (.Files.Get {path}) .)) }}}}')
    (chart / "templates" / "zz-render-capture.yaml").write_text("\n".join(lines) + "\n")


def _parse_render_log(log: str) -> dict[str, str]:
    rendered = {}
    for line in log.splitlines():
        match = re.search(r' message=("(?:[^"\\]|\\.)*")\s*$', line)
        if not match:
            continue
        message = ast.literal_eval(match.group(1))  # Go's strconv.Quote escapes are Python's too
        if message.startswith(_RENDER_MARK):
            name, _, text = message[len(_RENDER_MARK) :].partition("\n")
            rendered[name] = text
    return rendered


def _run_lint(charts: list[Path]) -> tuple[dict[str, Any], str]:
    """helm-sdkpy Lint results by chart directory, and the Go side's log (stderr)."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("helm_sdk_runner.py")), *map(str, charts)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"helm-sdkpy lint crashed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout), result.stderr


def _errors(lint: dict[str, Any]) -> list[str]:
    return [message["Path"] for message in lint["Messages"] if message["Severity"] >= LINT_ERROR]


@functools.cache
def _lint_and_render(values_json: str) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    values = json.loads(values_json)
    with tempfile.TemporaryDirectory(prefix="taskstream-chart-") as tmp:
        lint_copy = _chart_copy(Path(tmp), "lint", values)
        render_copy = _chart_copy(Path(tmp), "render", values)
        _add_render_capture(render_copy)
        results, log = _run_lint([lint_copy, render_copy])
        return results[str(lint_copy)], _parse_render_log(log), results[str(render_copy)]


def explain_lint_errors(values: dict[str, Any]) -> list[str]:
    """Which file breaks the chart. helm-sdkpy returns lint messages without their text, so
    a broken template is found by linting copies that each lack one template."""
    with tempfile.TemporaryDirectory(prefix="taskstream-chart-") as tmp:
        chart = _chart_copy(Path(tmp), "whole", values)
        results, _ = _run_lint([chart])
        errors = _errors(results[str(chart)])
        if "values.yaml" in errors:
            return ["the values break values.schema.json (see test_values_files_satisfy_the_values_schema)"]
        if errors != ["templates/"]:
            return [f"{path}: lint error" for path in errors]
        templates = [
            path.relative_to(chart).as_posix()
            for path in sorted((chart / "templates").rglob("*"))
            if path.is_file() and path.name != "_helpers.tpl"
        ]
        copies = {}
        for template in templates:
            copy_dir = _chart_copy(Path(tmp), f"without-{len(copies)}", values)
            (copy_dir / template).unlink()
            copies[template] = copy_dir
        results, _ = _run_lint(list(copies.values()))
        culprits = [t for t, copy_dir in copies.items() if not _errors(results[str(copy_dir)])]
        return [f"{t} does not render (reproduce with helm template / helm lint)" for t in culprits] or [
            "templates/: lint error in a helper or in several templates"
        ]


def lint_chart(values_name: str) -> dict[str, Any]:
    """helm-sdkpy's lint result for the chart with one values file (as `helm lint -f FILE`)."""
    _require_helm_sdkpy()
    return _lint_and_render(json.dumps(helm_values(values_name), sort_keys=True))[0]


def render_chart_files(values_name: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """Rendered text of each template (path under templates/ -> text), NOTES.txt included."""
    _require_helm_sdkpy()
    values = helm_values(values_name, overrides)
    _, rendered, render_lint = _lint_and_render(json.dumps(values, sort_keys=True))
    missing = sorted(set(_rendered_templates(CHART)) - set(rendered))
    if missing and _errors(render_lint):
        pytest.fail(f"the chart does not render with {values_name} values: " + "; ".join(explain_lint_errors(values)))
    if missing:
        pytest.fail(
            f"helm-sdkpy did not hand back the rendered text of {missing}: the fail()-in-lint-mode log "
            f"this harness reads may have changed (helm-sdkpy {__import__('helm_sdkpy').__version__})"
        )
    return rendered


def render_chart(values_name: str, overrides: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The manifests the chart renders with one values file, test hooks included."""
    documents = []
    for name, text in sorted(render_chart_files(values_name, overrides).items()):
        if name.endswith(".txt"):
            continue
        try:
            documents.extend(doc for doc in yaml.safe_load_all(text) if doc)
        except yaml.YAMLError as exc:
            pytest.fail(f"templates/{name} renders invalid YAML with {values_name} values: {exc}\n{text}")
    return copy.deepcopy(documents)


# --- Shared views of rendered manifests ------------------------------------


def render(name: str) -> list[dict[str, Any]]:
    """Documents of a render named like ALL_RENDERS ("kustomize-production", "helm-minikube")."""
    tool, _, variant = name.partition("-")
    return kustomize_build(variant) if tool == "kustomize" else render_chart(variant)


POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_specs(documents: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every object that runs pods."""
    for doc in documents:
        if doc["kind"] in POD_TEMPLATE_KINDS:
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield f"CronJob/{doc['metadata']['name']}", doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif doc["kind"] == "Pod":
            yield f"Pod/{doc['metadata']['name']}", doc["spec"]


def find(documents: list[dict[str, Any]], kind: str, component: str | None = None) -> list[dict[str, Any]]:
    """Objects of a kind, optionally only those labelled with an app.kubernetes.io/component."""
    return [
        doc
        for doc in documents
        if doc["kind"] == kind
        and (component is None or doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component)
    ]


def the_one(documents: list[dict[str, Any]], kind: str, component: str | None = None) -> dict[str, Any]:
    found = find(documents, kind, component)
    assert len(found) == 1, (
        f"expected one {kind} (component {component}), found {[d['metadata']['name'] for d in found]}"
    )
    return found[0]


#: app.kubernetes.io/component of the worker Deployments, by the --role they run: one worker of role all
#: (minikube), or a web and a stream Deployment (the base, production, the chart's defaults).
WORKER_COMPONENTS = {"worker": "all", "web": "web", "stream": "stream"}


def workers(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The worker Deployments by role (all, web, stream)."""
    found: dict[str, dict[str, Any]] = {}
    for component, role in WORKER_COMPONENTS.items():
        for deployment in find(documents, "Deployment", component):
            assert role not in found, f"two Deployments of role {role}"
            found[role] = deployment
    assert found, "no worker Deployment rendered"
    return found


def worker_container(deployment: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "worker")


def api_service(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The app's Service (the dev infrastructure's Postgres and Kafka have their own)."""
    found = [doc for doc in documents if doc["kind"] == "Service"
             and doc["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "taskstream"]
    assert len(found) == 1, f"expected one taskstream Service, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def app_config(documents: list[dict[str, Any]]) -> dict[str, str]:
    """Data of the ConfigMap the worker's environment comes from (others hold dashboards and the like)."""
    pod = next(iter(workers(documents).values()))["spec"]["template"]["spec"]
    names = {
        source["configMapRef"]["name"]
        for container in pod["containers"]
        for source in container.get("envFrom", [])
        if "configMapRef" in source
    }
    (config,) = [doc for doc in documents if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] in names]
    return config["data"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize by argument name, so every test covers every render it applies to."""
    parameters = {
        "kustomization": list(KUSTOMIZATIONS),
        "app_kustomization": list(APP_KUSTOMIZATIONS),
        "values_name": list(VALUES_FILES),
        "render_name": ALL_RENDERS,
    }
    for argument, values in parameters.items():
        if argument in metafunc.fixturenames:
            metafunc.parametrize(argument, values)


@pytest.fixture(scope="session")
def manifests() -> SimpleNamespace:
    """Rendering and querying helpers (a fixture, so tests work under any import mode)."""
    return SimpleNamespace(
        kustomize_build=kustomize_build,
        helm_values=helm_values,
        lint_chart=lint_chart,
        render_chart=render_chart,
        render_chart_files=render_chart_files,
        render=render,
        pod_specs=pod_specs,
        find=find,
        the_one=the_one,
        workers=workers,
        worker_container=worker_container,
        api_service=api_service,
        app_config=app_config,
        repo_root=REPO_ROOT,
        chart_dir=CHART,
        kustomizations=KUSTOMIZATIONS,
        explain_lint_errors=explain_lint_errors,
    )


@pytest.fixture(scope="session")
def tools() -> SimpleNamespace:
    """Locate external tools; a missing one skips (or, with CI=true, fails) the test."""
    return SimpleNamespace(
        require_executable=require_executable,
        require_module=require_module,
        find_executable=find_executable,
    )


@pytest.fixture(scope="session")
def settings_keys() -> tuple[tuple[str, ...], frozenset[str]]:
    """(CONFIG_KEYS, SECRET_KEYS) of streams.settings: the one list of configuration keys."""
    from streams.settings import CONFIG_KEYS, SECRET_KEYS

    return CONFIG_KEYS, SECRET_KEYS


@pytest.fixture(scope="session")
def kubernetes_validate() -> Any:
    return require_module("kubernetes_validate", "pip install kubernetes-validate")


@pytest.fixture
def rollout_fixture() -> Callable[[str], dict[str, Any]]:
    """Load a recorded rollout (tests/deploy/fixtures/NAME.json)."""

    def load(name: str) -> dict[str, Any]:
        return json.loads((FIXTURES / f"{name}.json").read_text())

    return load
