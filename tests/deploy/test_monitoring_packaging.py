"""Kustomize and Helm ship monitoring/ (rules, dashboards) and the logging setup, unchanged and alike.

The sources live in monitoring/; Kustomize and Helm can only read inside their
own folders, so kustomize/components/monitoring/ and helm/taskstream/files/
hold copies, checked here byte for byte.
"""

from __future__ import annotations

import json

import pytest
import yaml

DASHBOARDS = ("application", "streams", "reminders", "infrastructure")
LOKI_URL = "http://loki-gateway.monitoring.svc.cluster.local"
ALL_ON = {
    "monitoring": {
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "dashboards": {"enabled": True},
        "loki": {"url": "http://loki.logging:3100/", "datasource": {"enabled": True}, "alloy": {"enabled": True}},
    }
}
#: kubectl apply keeps the whole object in an annotation, and annotations are capped at 256 KiB.
APPLY_ANNOTATION_LIMIT = 262144


def _paths(manifests):
    root = manifests.repo_root
    return {
        "rules": root / "monitoring" / "alerts" / "taskstream.rules.yml",
        "dashboards": root / "monitoring" / "dashboards",
        "component": root / "kustomize" / "components" / "monitoring",
        "files": manifests.chart_dir / "files",
    }


def _rules(manifests):
    return yaml.safe_load(_paths(manifests)["rules"].read_text())


def _by_kind_and_component(documents, kind):
    return [
        doc for doc in documents
        if doc["kind"] == kind and doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "monitoring"
    ]


def _monitoring_objects(documents):
    """{short name: object} of the monitoring objects, names without the release prefix."""
    found = {}
    for doc in documents:
        if doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "monitoring":
            continue
        short = doc["metadata"]["name"].rpartition("taskstream")[2].lstrip("-")
        found[f"{doc['kind']}/{short or 'taskstream'}"] = doc
    return found


def test_copies_of_dashboards_rules_and_alloy_config_are_identical(manifests):
    paths = _paths(manifests)
    sources = {path.name: path.read_bytes() for path in paths["dashboards"].glob("*.json")}
    assert sorted(sources) == [f"taskstream-{name}.json" for name in sorted(DASHBOARDS)]
    refresh = (
        "refresh the copies: cp monitoring/dashboards/*.json kustomize/components/monitoring/dashboards/ && "
        "cp monitoring/dashboards/*.json helm/taskstream/files/dashboards/ && "
        "cp monitoring/alerts/taskstream.rules.yml helm/taskstream/files/ && "
        "cp kustomize/components/monitoring/config.alloy helm/taskstream/files/"
    )
    for copies in (paths["component"] / "dashboards", paths["files"] / "dashboards"):
        assert {path.name: path.read_bytes() for path in copies.glob("*.json")} == sources, f"{copies}: {refresh}"
    assert (paths["files"] / "taskstream.rules.yml").read_bytes() == paths["rules"].read_bytes(), refresh
    assert (paths["files"] / "config.alloy").read_bytes() == (paths["component"] / "config.alloy").read_bytes(), refresh
    rule = yaml.safe_load((paths["component"] / "prometheusrule.yaml").read_text())
    assert rule["spec"] == _rules(manifests), (
        "kustomize/components/monitoring/prometheusrule.yaml differs from the rules file: "
        "regenerate it with the command in its header"
    )


def test_monitoring_component_is_a_kustomize_component(manifests):
    kustomization = yaml.safe_load((_paths(manifests)["component"] / "kustomization.yaml").read_text())
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
    assert kustomization["kind"] == "Component"
    production = yaml.safe_load(
        (manifests.kustomizations["production"] / "app" / "kustomization.yaml").read_text()
    )
    assert "../../../components/monitoring" in production.get("components", [])


def _check_monitoring_objects(documents, manifests, *, loki_url):
    """What both tools must render: the rules, four dashboards, the Loki data source, Alloy's config."""
    (rule,) = _by_kind_and_component(documents, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"] == _rules(manifests)

    config_maps = {doc["metadata"]["name"]: doc for doc in _by_kind_and_component(documents, "ConfigMap")}
    dashboards = [doc for doc in config_maps.values() if doc["metadata"]["labels"].get("grafana_dashboard") == "1"]
    sources = _paths(manifests)["dashboards"]
    assert sorted(key for doc in dashboards for key in doc["data"]) == sorted(p.name for p in sources.glob("*.json"))
    for doc in dashboards:
        ((key, text),) = doc["data"].items()
        assert json.loads(text) == json.loads((sources / key).read_text()), key
        assert doc["metadata"]["annotations"]["grafana_folder"] == "taskstream"
        assert len(json.dumps(doc)) < APPLY_ANNOTATION_LIMIT, f"{key} is too large for kubectl apply"

    (datasource,) = [doc for doc in config_maps.values() if doc["metadata"]["labels"].get("grafana_datasource") == "1"]
    ((_, provisioning),) = datasource["data"].items()
    (loki,) = yaml.safe_load(provisioning)["datasources"]
    assert loki["type"] == "loki" and loki["url"] == loki_url

    (alloy,) = [doc for doc in config_maps.values() if "config.alloy" in doc.get("data", {})]
    config = alloy["data"]["config.alloy"]
    assert f'url = "{loki_url}/loki/api/v1/push"' in config
    assert 'label = "app.kubernetes.io/name=taskstream"' in config and 'target_label  = "app"' in config
    expected = (_paths(manifests)["component"] / "config.alloy").read_text().replace(LOKI_URL, loki_url)
    assert config == expected
    return rule, dashboards, datasource, alloy


def test_production_kustomize_ships_rules_dashboards_loki_and_alloy_config(manifests):
    documents = manifests.kustomize_build("production")
    _check_monitoring_objects(documents, manifests, loki_url=LOKI_URL)
    objects = _monitoring_objects(documents)
    assert all(doc["metadata"]["namespace"] == "taskstream" for doc in objects.values())
    # Stable names: a hashed name would leave the previous dashboard behind, shown twice.
    assert {name for name in objects if name.startswith("ConfigMap/dashboard-")} == {
        f"ConfigMap/dashboard-{name}" for name in DASHBOARDS
    }


def test_minikube_kustomize_ships_no_monitoring_objects(manifests):
    documents = manifests.kustomize_build("minikube")
    assert not _monitoring_objects(documents), "minikube has no Prometheus Operator or Grafana by default"


@pytest.mark.parametrize("values_file", ["default", "minikube"])
def test_helm_renders_no_monitoring_objects_unless_enabled(values_file, manifests):
    assert not _monitoring_objects(manifests.render_chart(values_file))


def test_helm_renders_rules_dashboards_loki_and_alloy_config_when_enabled(manifests):
    documents = manifests.render_chart("default", ALL_ON)
    rule, *_ = _check_monitoring_objects(documents, manifests, loki_url="http://loki.logging:3100")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["labels"]["app.kubernetes.io/instance"] == "test-release"


def test_helm_production_values_ship_what_the_kustomize_production_overlay_ships(manifests):
    helm = _monitoring_objects(manifests.render_chart("production"))
    kustomize = _monitoring_objects(manifests.kustomize_build("production"))
    assert sorted(helm) == sorted(kustomize)
    for name, doc in kustomize.items():
        assert helm[name].get("spec") == doc.get("spec"), name
        assert helm[name].get("data") == doc.get("data"), name
        for label in ("grafana_dashboard", "grafana_datasource"):
            assert helm[name]["metadata"]["labels"].get(label) == doc["metadata"]["labels"].get(label), name


def test_monitoring_stack_values_pick_up_what_taskstream_ships(manifests):
    """helm/monitoring/*.values.yaml (docs/deploy.md) select our PodMonitor, rules, ConfigMaps."""
    stack_dir = manifests.repo_root / "helm" / "monitoring"
    stack = yaml.safe_load((stack_dir / "kube-prometheus-stack.values.yaml").read_text())
    spec = stack["prometheus"]["prometheusSpec"]
    assert spec["podMonitorSelectorNilUsesHelmValues"] is False and spec["podMonitorSelector"] == {}
    assert spec["ruleSelectorNilUsesHelmValues"] is False and spec["ruleSelector"] == {}

    objects = _monitoring_objects(manifests.kustomize_build("production"))
    sidecar = stack["grafana"]["sidecar"]
    dashboards, datasources = sidecar["dashboards"], sidecar["datasources"]
    for name in DASHBOARDS:
        metadata = objects[f"ConfigMap/dashboard-{name}"]["metadata"]
        assert metadata["labels"][dashboards["label"]] == dashboards["labelValue"]
        assert dashboards["folderAnnotation"] in metadata["annotations"]
    assert objects["ConfigMap/loki-datasource"]["metadata"]["labels"][datasources["label"]] == datasources["labelValue"]
    assert dashboards["searchNamespace"] == datasources["searchNamespace"] == "ALL"

    alloy = yaml.safe_load((stack_dir / "alloy.values.yaml").read_text())["alloy"]["configMap"]
    shipped = objects["ConfigMap/alloy"]
    assert alloy["create"] is False
    assert alloy["name"] == shipped["metadata"]["name"] and alloy["key"] in shipped["data"]

    loki = yaml.safe_load((stack_dir / "loki.values.yaml").read_text())
    assert loki["loki"]["auth_enabled"] is False, "Alloy pushes and Grafana queries without a tenant id"
