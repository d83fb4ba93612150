"""Fixtures for the monitoring tests: alert rules, dashboards, the runbook, promtool and the app's metrics.

Helpers reach the tests as fixtures (no imports between test files: the suite
runs in pytest's default import mode, without packages).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MONITORING = REPO_ROOT / "monitoring"
RULES = MONITORING / "alerts" / "taskstream.rules.yml"
RULE_TESTS = sorted((MONITORING / "alerts" / "tests").glob("*.yml"))
DASHBOARDS = sorted((MONITORING / "dashboards").glob("*.json"))
RUNBOOK = REPO_ROOT / "docs" / "runbook.md"

#: Metrics from outside the app that dashboards and alerts may use: prometheus_client's
#: process collector, Prometheus's own `up`, cAdvisor and kube-state-metrics.
EXTERNAL_PREFIXES = ("process_", "container_", "kube_")
EXTERNAL_NAMES = {"up"}

#: The sample names each metric type exposes (the `_created` series are never queried).
_SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
    "enum": ("",),
}

# PromQL, reduced step by step to the bare metric names.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPINGS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# An identifier not preceded by a word character, '.', ':' or '$' (numbers, durations,
# Grafana variables) and not followed by '(' (a function or an aggregation).
_IDENTIFIER = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "start", "end",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (also in Grafana's templated PromQL)."""
    reduced = _STRINGS.sub('""', expr)
    reduced = _MATCHERS.sub(" ", reduced)
    reduced = _RANGES.sub(" ", reduced)
    reduced = _GROUPINGS.sub(" ", reduced)
    return {name for name in _IDENTIFIER.findall(reduced) if name.lower() not in _KEYWORDS}


def exported_metric_names() -> set[str]:
    """Every sample name the worker exposes for the families in streams.metrics.FAMILIES."""
    from prometheus_client.metrics import MetricWrapperBase

    from streams import metrics

    families = set(metrics.FAMILIES)
    defined = [value for value in vars(metrics).values() if isinstance(value, MetricWrapperBase)]
    listed = [m for m in defined if m._name in families or f"{m._name}_total" in families]
    found = {m._name for m in listed} | {f"{m._name}_total" for m in listed}
    assert families <= found, f"FAMILIES names metrics streams.metrics does not define: {families - found}"
    return {m._name + suffix for m in listed for suffix in _SAMPLE_SUFFIXES[m._type]}


def unknown_metrics(names: set[str], exported: set[str]) -> set[str]:
    return {
        name for name in names
        if name not in exported and name not in EXTERNAL_NAMES and not name.startswith(EXTERNAL_PREFIXES)
    }


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def markdown_anchors(path: Path) -> set[str]:
    return {github_anchor(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


def alerts(rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


@pytest.fixture(scope="session")
def monitoring() -> SimpleNamespace:
    """The monitoring sources, parsed, and helpers to inspect them."""
    rules = yaml.safe_load(RULES.read_text())
    return SimpleNamespace(
        repo_root=REPO_ROOT,
        rules_path=RULES,
        rules=rules,
        alerts=alerts(rules),
        rule_tests=RULE_TESTS,
        dashboards={path.name: json.loads(path.read_text()) for path in DASHBOARDS},
        dashboard_paths=DASHBOARDS,
        runbook=RUNBOOK,
        panels=panels,
        metric_names=metric_names,
        exported_metric_names=exported_metric_names(),
        unknown_metrics=unknown_metrics,
        github_anchor=github_anchor,
        markdown_anchors=markdown_anchors,
    )


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool's path. Missing: skip, naming the Debian package; under CI=true, fail
    (the rule of tests/conftest.py's require_tool, which a test module cannot import)."""
    path = shutil.which("promtool")
    if path:
        return path
    message = "promtool not found: install the Debian package 'prometheus' (apt-get install prometheus)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
