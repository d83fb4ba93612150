"""The alert rules are valid, unit-tested both ways, use real metrics and each has a runbook section."""

from __future__ import annotations

import re
import subprocess

import pytest


def _run(command, cwd):
    return subprocess.run(command, cwd=cwd, check=False, capture_output=True, text=True, timeout=60)


def test_rules_pass_promtool_check_with_lint(monitoring, promtool):
    result = _run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(monitoring.rules_path)],
                  monitoring.repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass(monitoring, promtool):
    assert monitoring.rule_tests, "no promtool tests in monitoring/alerts/tests/"
    result = _run([promtool, "test", "rules", *map(str, monitoring.rule_tests)], monitoring.repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def _evaluations(monitoring):
    """(alert name, expected alerts, test name) of every alert_rule_test with input series."""
    import yaml

    for path in monitoring.rule_tests:
        document = yaml.safe_load(path.read_text())
        assert document["rule_files"] == ["../taskstream.rules.yml"], f"{path.name} tests another rule file"
        for test in document["tests"]:
            if not test.get("input_series"):
                continue
            for evaluation in test.get("alert_rule_test", []):
                yield evaluation["alertname"], evaluation.get("exp_alerts") or [], test.get("name", path.name)


def test_every_alert_is_tested_firing_and_staying_quiet(monitoring):
    firing, quiet = set(), set()
    for name, expected, _ in _evaluations(monitoring):
        (firing if expected else quiet).add(name)
    names = {alert["alert"] for alert in monitoring.alerts}
    assert not names - firing, f"no promtool test shows these alerts firing: {sorted(names - firing)}"
    assert not names - quiet, f"no promtool test shows these alerts staying quiet: {sorted(names - quiet)}"
    assert not (firing | quiet) - names, f"tests of alerts that do not exist: {sorted((firing | quiet) - names)}"


def test_alert_names_are_unique_and_say_whose_they_are(monitoring):
    names = [alert["alert"] for alert in monitoring.alerts]
    assert len(names) == len(set(names)), f"duplicate alert names: {names}"
    assert all(re.fullmatch(r"Taskstream[A-Z][A-Za-z0-9]+", name) for name in names), names


@pytest.mark.parametrize("field", ["severity", "summary", "description", "runbook_url"])
def test_every_alert_has_severity_summary_description_and_runbook(field, monitoring):
    for alert in monitoring.alerts:
        name = alert["alert"]
        if field == "severity":
            assert alert.get("labels", {}).get("severity") in {"critical", "warning"}, name
        elif field == "runbook_url":
            url = alert.get("annotations", {}).get("runbook_url", "")
            assert url.endswith(f"docs/runbook.md#{name.lower()}"), f"{name}: runbook_url {url!r}"
        else:
            assert alert.get("annotations", {}).get(field, "").strip(), f"{name} has no {field}"


def test_every_alert_has_a_runbook_section_and_no_section_is_stale(monitoring):
    headings = [line[3:].strip() for line in monitoring.runbook.read_text().splitlines() if line.startswith("## ")]
    names = {alert["alert"] for alert in monitoring.alerts}
    assert not names - set(headings), f"docs/runbook.md lacks sections for {sorted(names - set(headings))}"
    stale = {h for h in headings if h.startswith("Taskstream")} - names
    assert not stale, f"docs/runbook.md has sections for alerts that no longer exist: {sorted(stale)}"
    for name in names:
        section = monitoring.runbook.read_text().split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        assert "**Means:**" in section and "**Do:**" in section, f"{name}: say what it means and what to do"


def test_runbook_links_point_at_existing_headings(monitoring):
    text = monitoring.runbook.read_text()
    docs = monitoring.runbook.parent
    broken = []
    for target, anchor in re.findall(r"\]\(([\w./-]*)#([\w-]+)\)", text):
        path = docs / target if target else monitoring.runbook
        if not path.exists() or anchor not in monitoring.markdown_anchors(path):
            broken.append(f"{target}#{anchor}")
    assert not broken, f"links to missing headings: {broken}"


def test_rules_use_only_metrics_the_app_exports_or_known_external_ones(monitoring):
    problems = {
        alert["alert"]: sorted(unknown)
        for alert in monitoring.alerts
        if (unknown := monitoring.unknown_metrics(monitoring.metric_names(alert["expr"]),
                                                  monitoring.exported_metric_names))
    }
    assert not problems, f"metrics neither in streams.metrics.FAMILIES nor external: {problems}"


def test_metric_name_extraction_sees_through_promql_syntax(monitoring):
    """The metric check above is only as good as this parser."""
    expr = (
        'histogram_quantile(0.99, sum by (route, le) (rate(a_bucket{route!~"/x|/y", le="1.0"}[$__rate_interval])))'
        ' > 1e3 and on (pod) group_left (node) max without (le) (b) offset 5m'
        ' or absent(up{job=~".*taskstream.*"} == 1) unless c_total * 60'
    )
    assert monitoring.metric_names(expr) == {"a_bucket", "b", "up", "c_total"}
