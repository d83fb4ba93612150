"""The Helm chart lints, validates its values and renders the same workloads as Kustomize."""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml

#: Helm's lint severities (helm.sh/helm/v3/pkg/lint/support).
WARNING = 2
SEVERITY_NAMES = {0: "unknown", 1: "info", 2: "warning", 3: "error"}


def _schema_validator(manifests, tools):
    jsonschema = tools.require_module("jsonschema", "pip install jsonschema")
    schema = json.loads((manifests.chart_dir / "values.schema.json").read_text())
    return jsonschema.Draft7Validator(schema)


def test_chart_passes_helm_lint(values_name, manifests):
    result = manifests.lint_chart(values_name)
    problems = [
        f"{SEVERITY_NAMES.get(m['Severity'], m['Severity'])} in {m['Path']}"
        for m in result["Messages"]
        if m["Severity"] >= WARNING
    ]
    if problems or result["Errors"]:
        # helm-sdkpy returns the messages without their text: narrow it down to a file.
        explained = manifests.explain_lint_errors(manifests.helm_values(values_name))
        pytest.fail(f"helm lint with {values_name} values: {problems}\n" + "\n".join(explained))
    assert result["TotalChartsLinted"] == 1


def test_every_values_key_is_commented(manifests):
    lines = (manifests.chart_dir / "values.yaml").read_text().splitlines()
    uncommented, previous = [], ""
    for number, line in enumerate(lines, 1):
        if re.match(r"^\s*[A-Za-z_][\w.-]*:", line) and not previous.lstrip().startswith("#"):
            uncommented.append(f"values.yaml:{number}: {line.strip()}")
        if line.strip():
            previous = line
    assert not uncommented, "keys without a comment right above them:\n" + "\n".join(uncommented)


def test_values_files_satisfy_the_values_schema(values_name, manifests, tools):
    validator = _schema_validator(manifests, tools)
    errors = [
        f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(manifests.helm_values(values_name))
    ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"config": {"KAFKA_PROFILE": "embedded"}}, "clusters must use a real Kafka"),
        ({"config": {"KAFKA_BROKER": "kafka://x:9092"}}, "a key the app does not read"),
        ({"config": {"WEB_PORT": 6066}}, "ConfigMap values are strings"),
        ({"secrets": {"existingSecret": "", "values": {"DATABASE_URL": "", "JWT_SECRET": ""}}}, "no secrets at all"),
        ({"image": {"pullPolicy": "Sometimes"}}, "not a pull policy"),
        ({"replicas": 3}, "a misspelt top-level key"),
        ({"workers": {"web": {"autoscaling": {"targetRequestsPerSecond": "fast"}}}}, "a target is a number"),
        ({"workers": {"queue": {"enabled": True}}}, "not a role"),
        ({"config": {"WORKER_ROLE": "api"}}, "not a role"),
    ],
)
def test_values_schema_rejects_broken_values(override, reason, manifests, tools):
    validator = _schema_validator(manifests, tools)
    assert list(validator.iter_errors(manifests.helm_values("default", override))), reason


def test_config_keys_in_the_schema_are_the_non_secret_settings(manifests, settings_keys):
    config_keys, secret_keys = settings_keys
    schema = json.loads((manifests.chart_dir / "values.schema.json").read_text())
    config = schema["properties"]["config"]
    assert set(config["properties"]) == set(config_keys) - secret_keys
    assert set(config["required"]) == set(config_keys) - secret_keys
    assert set(schema["properties"]["secrets"]["properties"]["values"]["properties"]) == secret_keys


def test_helpers_define_name_fullname_labels_and_selector_labels_once(manifests):
    helpers = (manifests.chart_dir / "templates" / "_helpers.tpl").read_text()
    defined = re.findall(r'\{\{-? define "([^"]+)"', helpers)
    for name in ("taskstream.name", "taskstream.fullname", "taskstream.labels", "taskstream.selectorLabels"):
        assert defined.count(name) == 1, name


def test_every_object_carries_the_release_labels_and_selectors_agree(values_name, manifests):
    documents = manifests.render_chart(values_name)
    for doc in documents:
        labels = doc["metadata"].get("labels", {})
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "helm.sh/chart",
            "app.kubernetes.io/managed-by",
        ):
            assert key in labels, f"{doc['kind']}/{doc['metadata']['name']} lacks label {key}"

    roles = manifests.workers(documents)
    api_role = "web" if "web" in roles else "all"
    pdbs = manifests.find(documents, "PodDisruptionBudget")
    for role, deployment in roles.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        assert (manifests.api_service(documents)["spec"]["selector"] == selector) == (role == api_role), role
        assert [pdb["spec"]["selector"]["matchLabels"] for pdb in pdbs if pdb["spec"]["selector"]["matchLabels"]
                .items() <= pod_labels.items()] in ([selector], []), role
        for monitor in manifests.find(documents, "PodMonitor"):
            monitor_selector = monitor["spec"]["selector"]
            assert monitor_selector["matchLabels"].items() <= pod_labels.items()
            assert all(pod_labels[e["key"]] in e["values"] for e in monitor_selector.get("matchExpressions", []))


def test_worker_probes_health_and_readiness_on_the_http_port(values_name, manifests):
    documents = manifests.render_chart(values_name)
    for role, deployment in manifests.workers(documents).items():
        container = manifests.worker_container(deployment)
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
        assert container["args"] == ["worker", "-l", "info", "--role", role]


def test_default_values_run_web_and_stream_each_scaled_on_its_own_metrics(manifests):
    documents = manifests.render_chart("default")
    roles = manifests.workers(documents)
    assert set(roles) == {"web", "stream"}
    assert {d["metadata"]["name"] for d in roles.values()} == {"test-release-taskstream-web",
                                                              "test-release-taskstream-stream"}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in manifests.find(documents, "HorizontalPodAutoscaler")}
    web, stream = hpas[roles["web"]["metadata"]["name"]], hpas[roles["stream"]["metadata"]["name"]]
    assert {m["type"] for m in web["metrics"]} == {"Resource", "Pods"}
    assert {m["type"] for m in stream["metrics"]} == {"Resource", "External"}
    (lag,) = [m["external"] for m in stream["metrics"] if m["type"] == "External"]
    assert lag["metric"]["name"] == "taskstream_consumer_lag"
    assert stream["maxReplicas"] <= int(manifests.app_config(documents)["TOPIC_PARTITIONS"])
    # A null target leaves the metric out (no prometheus-adapter): the HPA scales on CPU alone.
    cpu_only = manifests.render_chart("default", {"workers": {"web": {"autoscaling": {"targetRequestsPerSecond": None}},
                                                             "stream": {"autoscaling": {"targetConsumerLagPerPod": None}}}})
    assert {m["type"] for h in manifests.find(cpu_only, "HorizontalPodAutoscaler") for m in h["spec"]["metrics"]} == {
        "Resource"}


def test_config_change_rolls_the_workers(manifests):
    def checksum(overrides):
        documents = manifests.render_chart("default", overrides)
        return manifests.workers(documents)["web"]["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]

    baseline = checksum(None)
    assert re.fullmatch(r"[0-9a-f]{64}", baseline)
    assert checksum({"config": {"LOG_LEVEL": "debug"}}) != baseline
    assert checksum({"workers": {"web": {"autoscaling": {"maxReplicas": 3}}}}) == baseline


def test_migration_runs_as_a_pre_install_and_pre_upgrade_hook(values_name, manifests):
    documents = manifests.render_chart(values_name)
    job = manifests.the_one(documents, "Job", "migration")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "hook-succeeded" not in annotations["helm.sh/hook-delete-policy"], "kept for its logs and deploy verify"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["migrate"]
    for worker in manifests.workers(documents).values():
        assert container["image"] == manifests.worker_container(worker)["image"]
    # A pre-install hook runs before the release's own objects exist.
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]
    assert "envFrom" not in container

    chart_secrets = manifests.find(documents, "Secret")
    if manifests.helm_values(values_name)["secrets"]["existingSecret"]:
        assert not chart_secrets
    else:
        (secret,) = chart_secrets
        assert "pre-install" in secret["metadata"]["annotations"]["helm.sh/hook"]
        assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])


def test_helm_test_pod_checks_ready_through_the_service(values_name, manifests):
    documents = manifests.render_chart(values_name)
    (pod,) = manifests.find(documents, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    service = manifests.api_service(documents)
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["READY_URL"] == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/ready"
    assert "urllib.request.urlopen(url" in pod["spec"]["containers"][0]["args"][0]
    assert pod["spec"]["restartPolicy"] == "Never"


def test_notes_tell_the_operator_how_to_verify_and_reach_the_release(values_name, manifests):
    notes = manifests.render_chart_files(values_name)["NOTES.txt"]
    assert "taskstream deploy verify --namespace" in notes
    assert "--selector app.kubernetes.io/instance=test-release" in notes
    assert "helm test test-release" in notes
    values = manifests.helm_values(values_name)
    if values["ingress"]["enabled"]:
        assert f"https://{values['ingress']['host']}/health" in notes
    elif values["service"]["type"] == "NodePort":
        assert "minikube service" in notes
    else:
        assert "port-forward" in notes


def test_production_values_scale_serve_tls_and_use_managed_services(manifests):
    documents = manifests.render_chart("production")
    config = manifests.app_config(documents)
    ingress = manifests.the_one(documents, "Ingress")
    issuer = manifests.the_one(documents, "ClusterIssuer")

    roles = manifests.workers(documents)
    assert set(roles) == {"web", "stream"}
    for role, deployment in roles.items():
        hpa = manifests.the_one(documents, "HorizontalPodAutoscaler", role)
        pdb = manifests.the_one(documents, "PodDisruptionBudget", role)
        assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        assert 3 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        if role == "stream":
            assert hpa["spec"]["maxReplicas"] <= int(config["TOPIC_PARTITIONS"])
        assert 1 <= pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == issuer["metadata"]["name"]
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and config["KAFKA_SASL_USERNAME"]
    assert manifests.find(documents, "PodMonitor")


def test_minikube_values_use_the_dev_infrastructure(manifests):
    documents = manifests.render_chart("minikube")
    (secret,) = manifests.find(documents, "Secret")
    roles = manifests.workers(documents)
    assert set(roles) == {"all"}, "minikube runs one worker of role all"
    worker = roles["all"]
    service = manifests.api_service(documents)
    assert service["spec"]["selector"].items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    assert worker["spec"]["replicas"] == 1 and not manifests.find(documents, "HorizontalPodAutoscaler")
    assert worker["spec"]["template"]["spec"]["containers"][0]["image"] == "taskstream:dev"
    assert service["spec"]["ports"][0]["nodePort"] == 30066

    infra = manifests.kustomize_build("minikube-infra")
    credentials = next(d for d in infra if d["kind"] == "Secret")
    password = base64.b64decode(credentials["data"]["POSTGRES_PASSWORD"]).decode()
    assert secret["stringData"]["DATABASE_URL"] == f"postgresql://taskstream:{password}@postgres:5432/taskstream"
    kafka = next(d for d in infra if d["kind"] == "Service" and d["metadata"]["name"] == "kafka")
    config = manifests.app_config(documents)
    assert config["KAFKA_BROKER_URL"] == f"kafka://kafka:{kafka['spec']['ports'][0]['port']}"


def test_values_files_document_how_to_use_them(manifests):
    for name in ("values-minikube.yaml", "values-production.yaml"):
        text = (manifests.chart_dir / name).read_text()
        assert text.startswith("#"), f"{name} starts without explaining itself"
        yaml.safe_load(text)
