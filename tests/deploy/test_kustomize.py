"""The Kustomize base and overlays render what each environment needs."""

from __future__ import annotations

import base64
import re

import yaml

TOPICS = {"task-events", "reminders", "reminder-schedule", "task-updates"}


def _config(documents, manifests):
    return manifests.app_config(documents)


def test_every_kustomization_renders(kustomization, manifests):
    documents = manifests.kustomize_build(kustomization)
    assert documents, f"{kustomization} rendered nothing"


def test_kustomizations_use_labels_and_patches_not_deprecated_fields(kustomization, manifests):
    text = (manifests.kustomizations[kustomization] / "kustomization.yaml").read_text()
    kustomization_doc = yaml.safe_load(text)
    deprecated = {"commonLabels", "patchesJson6902", "patchesStrategicMerge", "bases", "vars"}
    assert not deprecated & set(kustomization_doc), f"deprecated fields: {deprecated & set(kustomization_doc)}"


def test_workers_start_only_after_the_schema_is_migrated(app_kustomization, manifests):
    documents = manifests.kustomize_build(app_kustomization)
    pod = manifests.the_one(documents, "Deployment", "worker")["spec"]["template"]["spec"]
    worker = next(c for c in pod["containers"] if c["name"] == "worker")
    init = pod.get("initContainers", [])
    assert [c["args"] for c in init] == [["migrate"]], "the worker pod must run `taskstream migrate` first"
    assert init[0]["image"] == worker["image"], "the migration must run the same image as the worker"

    job = manifests.the_one(documents, "Job", "migration")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == worker["image"]


def test_worker_probes_health_and_readiness_on_the_http_port(app_kustomization, manifests):
    documents = manifests.kustomize_build(app_kustomization)
    container = manifests.the_one(documents, "Deployment", "worker")["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert {"name": "http", "containerPort": 6066, "protocol": "TCP"} in container["ports"]
    service = manifests.the_one(documents, "Service", "worker")
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_production_never_overwrites_the_real_secrets(manifests):
    """Applying the overlay must not replace the Secret made by scripts/setup-secrets.sh with placeholders."""
    documents = manifests.kustomize_build("production")
    assert not [d for d in documents if d["kind"] == "Secret"], "production must not ship any Secret"
    references = {
        entry["valueFrom"]["secretKeyRef"]["name"]
        for _, pod in manifests.pod_specs(documents)
        for container in [*pod.get("initContainers", []), *pod["containers"]]
        for entry in container.get("env", [])
        if "valueFrom" in entry
    }
    assert references == {"taskstream-secrets"}
    script = (manifests.repo_root / "scripts" / "setup-secrets.sh").read_text()
    assert "create secret generic taskstream-secrets" in script
    assert "create secret generic taskstream-kafka-ca" in script


def test_production_talks_to_managed_kafka_over_sasl_ssl(manifests):
    config = _config(manifests.kustomize_build("production"), manifests)
    assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["KAFKA_SASL_MECHANISM"].startswith("SCRAM-SHA-")
    assert config["KAFKA_SASL_USERNAME"]
    assert int(config["TOPIC_REPLICATION_FACTOR"]) >= 3


def test_production_scales_within_hpa_bounds_and_keeps_workers_during_disruptions(manifests):
    documents = manifests.kustomize_build("production")
    deployment = manifests.the_one(documents, "Deployment", "worker")
    hpa = manifests.the_one(documents, "HorizontalPodAutoscaler")
    pdb = manifests.the_one(documents, "PodDisruptionBudget")
    partitions = int(_config(documents, manifests)["TOPIC_PARTITIONS"])

    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert 2 <= hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"]
    assert hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"] <= partitions
    assert 1 <= pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"] and resources["limits"]["memory"]


def test_production_ingress_serves_tls_from_the_included_lets_encrypt_issuer(manifests):
    documents = manifests.kustomize_build("production")
    ingress = manifests.the_one(documents, "Ingress")
    issuer = manifests.the_one(documents, "ClusterIssuer")

    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == issuer["metadata"]["name"]
    assert "namespace" not in issuer["metadata"], "a ClusterIssuer is cluster-scoped"
    assert "letsencrypt.org" in issuer["spec"]["acme"]["server"]
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]} == hosts
    assert (
        ingress["spec"]["ingressClassName"]
        == issuer["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"]
    )


def test_podmonitor_scrapes_metrics_from_the_http_port(manifests):
    for name in ("base", "production"):
        documents = manifests.kustomize_build(name)
        monitor = manifests.the_one(documents, "PodMonitor")
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
        pod_labels = manifests.the_one(documents, "Deployment", "worker")["spec"]["template"]["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_minikube_runs_one_small_worker_reachable_from_the_host(manifests):
    documents = manifests.kustomize_build("minikube")
    deployment = manifests.the_one(documents, "Deployment", "worker")
    assert deployment["spec"]["replicas"] == 1
    assert not manifests.find(documents, "HorizontalPodAutoscaler"), "one replica: nothing to autoscale"
    assert not manifests.find(documents, "PodMonitor"), "minikube has no Prometheus Operator CRDs by default"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "taskstream:dev" and container["imagePullPolicy"] == "Never"
    assert container["resources"]["limits"]["memory"] in ("256Mi", "512Mi")

    service = manifests.the_one(documents, "Service", "worker")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30066
    assert "30066" in (manifests.repo_root / "scripts" / "setup-minikube.sh").read_text()


def test_minikube_brings_postgres_and_kafka_with_persistent_storage(manifests):
    documents = manifests.kustomize_build("minikube")
    config = _config(documents, manifests)
    for name, port in (("postgres", 5432), ("kafka", 9092)):
        statefulset = next(d for d in documents if d["kind"] == "StatefulSet" and d["metadata"]["name"] == name)
        assert statefulset["spec"]["volumeClaimTemplates"], f"{name} needs a PVC"
        service = next(d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] == name)
        assert port in [p["port"] for p in service["spec"]["ports"]]
    assert config["KAFKA_BROKER_URL"] == "kafka://kafka:9092"

    secret = next(d for d in documents if d["kind"] == "Secret" and d["metadata"]["name"] == "taskstream-secrets")
    postgres_credentials = next(
        d for d in documents if d["kind"] == "Secret" and d["metadata"]["name"].startswith("postgres-credentials")
    )
    url = base64.b64decode(secret["data"]["DATABASE_URL"]).decode()
    password = base64.b64decode(postgres_credentials["data"]["POSTGRES_PASSWORD"]).decode()
    assert re.fullmatch(rf"postgresql://taskstream:{re.escape(password)}@postgres:5432/taskstream", url)


def test_minikube_creates_the_application_topics_with_the_configured_partitions(manifests):
    documents = manifests.kustomize_build("minikube")
    job = next(d for d in documents if d["kind"] == "Job" and d["metadata"]["name"] == "kafka-topics")
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    config = _config(documents, manifests)
    assert set(env["TOPICS"].split()) == TOPICS
    assert env["PARTITIONS"] == config["TOPIC_PARTITIONS"]
    assert int(env["RETENTION_MS"]) == int(config["TOPIC_RETENTION_HOURS"]) * 3600 * 1000
    assert "--if-not-exists" in job["spec"]["template"]["spec"]["containers"][0]["args"][0]


def test_every_overlay_keeps_the_migration_job_name_the_scripts_wait_for(app_kustomization, manifests):
    job = manifests.the_one(manifests.kustomize_build(app_kustomization), "Job", "migration")
    assert job["metadata"]["name"] == "taskstream-migrate"
    script = (manifests.repo_root / "scripts" / "setup-minikube.sh").read_text()
    assert "delete job taskstream-migrate" in script and "job/taskstream-migrate" in script
