"""The Grafana dashboards are valid, take their data source from a variable and chart real metrics."""

from __future__ import annotations

import subprocess

import pytest
import yaml

EXPECTED = {
    "taskstream-application.json",
    "taskstream-streams.json",
    "taskstream-reminders.json",
    "taskstream-infrastructure.json",
}
#: Data source variables and the plugin type each must select.
DATASOURCE_VARIABLES = {"${datasource}": "prometheus", "${loki}": "loki"}


def _queried_panels(monitoring, dashboard):
    return [panel for panel in monitoring.panels(dashboard) if panel["type"] != "row"]


def test_the_four_dashboards_exist_with_unique_uids(monitoring):
    assert set(monitoring.dashboards) == EXPECTED
    uids = [dashboard["uid"] for dashboard in monitoring.dashboards.values()]
    assert len(set(uids)) == len(uids), uids
    assert all(dashboard["title"].startswith("taskstream / ") for dashboard in monitoring.dashboards.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_has_unique_panel_ids_and_a_sane_grid(name, monitoring):
    dashboard = monitoring.dashboards[name]
    all_panels = monitoring.panels(dashboard)
    ids = [panel["id"] for panel in all_panels]
    assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids {sorted(i for i in ids if ids.count(i) > 1)}"
    cells = {}
    for panel in all_panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, f"{name}: {panel['title']} {grid}"
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{name}: {panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_panel_and_query_takes_its_data_source_from_a_variable(name, monitoring):
    dashboard = monitoring.dashboards[name]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in monitoring.panels(dashboard):
        source = panel.get("datasource")
        assert source, f"{name}: panel {panel['title']!r} has no datasource"
        assert DATASOURCE_VARIABLES.get(source["uid"]) == source["type"], f"{name}: {panel['title']!r} {source}"
        variable = variables[source["uid"][2:-1]]
        assert variable["type"] == "datasource" and variable["query"] == source["type"]
        for target in panel.get("targets", []):
            assert target.get("datasource", source) == source, f"{name}: {panel['title']!r} mixes data sources"
    for panel in _queried_panels(monitoring, dashboard):
        assert panel.get("targets"), f"{name}: {panel['title']!r} queries nothing"


def _prometheus_queries(monitoring):
    for name, dashboard in sorted(monitoring.dashboards.items()):
        for panel in _queried_panels(monitoring, dashboard):
            if panel["datasource"]["type"] == "prometheus":
                for target in panel["targets"]:
                    yield name, panel, target["expr"]


def test_dashboards_chart_only_metrics_the_app_exports_or_known_external_ones(monitoring):
    problems = [
        f"{name}: {panel['title']!r}: {sorted(unknown)}"
        for name, panel, expr in _prometheus_queries(monitoring)
        if (unknown := monitoring.unknown_metrics(monitoring.metric_names(expr), monitoring.exported_metric_names))
    ]
    assert not problems, "metrics neither in streams.metrics.FAMILIES nor external:\n" + "\n".join(problems)


def test_every_metric_the_app_exports_is_on_a_dashboard(monitoring):
    charted = set()
    for _, _, expr in _prometheus_queries(monitoring):
        charted |= monitoring.metric_names(expr)
    families = {name.removesuffix("_total") for name in monitoring.exported_metric_names if name.endswith("_total")}
    families |= {name.removesuffix("_bucket") for name in monitoring.exported_metric_names if name.endswith("_bucket")}
    families |= {n for n in monitoring.exported_metric_names if not n.endswith(("_total", "_bucket", "_count", "_sum"))}
    missing = {
        family for family in families
        if not any(name == family or name.startswith(f"{family}_") for name in charted)
    }
    assert not missing, f"exported but on no dashboard: {sorted(missing)}"


def test_dashboard_queries_are_valid_promql(monitoring, promtool, tmp_path):
    """promtool parses every query once Grafana's variables are given values."""
    substitutions = {"$__rate_interval": "5m", "$__range": "6h", "$namespace": "taskstream"}
    rules = []
    for index, (name, panel, expr) in enumerate(_prometheus_queries(monitoring)):
        for variable, value in substitutions.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{name}: {panel['title']!r} uses an unknown variable: {expr}"
        rules.append({"record": f"dashboard:query_{index}", "expr": expr})
    rule_file = tmp_path / "dashboard-queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rule_file)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_application_dashboard_shows_latency_quantiles_per_route_and_the_logs(monitoring):
    dashboard = monitoring.dashboards["taskstream-application.json"]
    queries = [target["expr"] for panel in _queried_panels(monitoring, dashboard) for target in panel["targets"]]
    for quantile in ("0.5", "0.95", "0.99"):
        assert any(
            expr.startswith(f"histogram_quantile({quantile}, sum by (route, le)")
            and "taskstream_http_request_duration_seconds_bucket" in expr
            for expr in queries
        ), f"no p{quantile} latency per route"
    (logs,) = [panel for panel in monitoring.panels(dashboard) if panel["type"] == "logs"]
    assert logs["datasource"]["type"] == "loki"
    expr = logs["targets"][0]["expr"]
    assert expr.startswith('{app="taskstream"') and expr.endswith("| json"), expr


def test_infrastructure_dashboard_uses_cadvisor_and_kube_state_metrics(monitoring):
    dashboard = monitoring.dashboards["taskstream-infrastructure.json"]
    charted = set()
    for panel in _queried_panels(monitoring, dashboard):
        for target in panel["targets"]:
            charted |= monitoring.metric_names(target["expr"])
    assert {
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "kube_pod_container_status_restarts_total",
    } <= charted
