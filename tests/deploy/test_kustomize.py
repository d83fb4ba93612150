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
    job = manifests.the_one(documents, "Job", "migration")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    for role, deployment in manifests.workers(documents).items():
        pod = deployment["spec"]["template"]["spec"]
        worker = manifests.worker_container(deployment)
        init = pod.get("initContainers", [])
        assert [c["args"] for c in init] == [["migrate"]], f"the {role} worker pod must run `taskstream migrate` first"
        assert init[0]["image"] == worker["image"], "the migration must run the same image as the worker"
        assert job["spec"]["template"]["spec"]["containers"][0]["image"] == worker["image"]


def test_worker_probes_health_and_readiness_on_the_http_port(app_kustomization, manifests):
    documents = manifests.kustomize_build(app_kustomization)
    for deployment in manifests.workers(documents).values():
        container = manifests.worker_container(deployment)
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
        assert {"name": "http", "containerPort": 6066, "protocol": "TCP"} in container["ports"]
    service = manifests.api_service(documents)
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_the_service_sends_http_to_the_workers_that_serve_the_api(app_kustomization, manifests):
    """Web workers (or the one worker of role all); a stream worker answers only its probes and metrics."""
    documents = manifests.kustomize_build(app_kustomization)
    roles = manifests.workers(documents)
    selector = manifests.api_service(documents)["spec"]["selector"].items()
    for role, deployment in roles.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"].items()
        assert (selector <= labels) == (role in ("web", "all")), f"{app_kustomization}: Service vs {role} pods"
    ingress = manifests.find(documents, "Ingress")
    for doc in ingress:
        backends = {path["backend"]["service"]["name"] for rule in doc["spec"]["rules"] for path in rule["http"]["paths"]}
        assert backends == {manifests.api_service(documents)["metadata"]["name"]}


def test_each_role_scales_on_its_own_metrics(manifests):
    """web on CPU and requests per second, stream on consumer lag (and CPU), never past the partitions."""
    for name in ("base", "production"):
        documents = manifests.kustomize_build(name)
        roles = manifests.workers(documents)
        assert set(roles) == {"web", "stream"}
        hpas = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in manifests.find(documents, "HorizontalPodAutoscaler")}
        assert set(hpas) == {deployment["metadata"]["name"] for deployment in roles.values()}, name
        web, stream = (hpas[roles[role]["metadata"]["name"]]["spec"] for role in ("web", "stream"))

        def metrics(spec):
            return {(m["type"], m[m["type"].lower()]["metric"]["name"] if m["type"] != "Resource"
                     else m["resource"]["name"]) for m in spec["metrics"]}

        assert metrics(web) == {("Resource", "cpu"), ("Pods", "taskstream_http_requests_per_second")}
        assert metrics(stream) == {("External", "taskstream_consumer_lag"), ("Resource", "cpu")}
        partitions = int(_config(documents, manifests)["TOPIC_PARTITIONS"])
        assert stream["maxReplicas"] <= partitions, f"{name}: stream workers beyond {partitions} partitions idle"
        pdbs = manifests.find(documents, "PodDisruptionBudget")
        for role, deployment in roles.items():
            pod_labels = deployment["spec"]["template"]["metadata"]["labels"].items()
            covering = [p for p in pdbs if p["spec"]["selector"]["matchLabels"].items() <= pod_labels]
            assert len(covering) == 1, f"{name}: the {role} pods need exactly one PodDisruptionBudget"


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
    partitions = int(_config(documents, manifests)["TOPIC_PARTITIONS"])
    for role, deployment in manifests.workers(documents).items():
        name = deployment["metadata"]["name"]
        (hpa,) = [h for h in manifests.find(documents, "HorizontalPodAutoscaler")
                  if h["spec"]["scaleTargetRef"]["name"] == name]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"].items()
        (pdb,) = [p for p in manifests.find(documents, "PodDisruptionBudget")
                  if p["spec"]["selector"]["matchLabels"].items() <= pod_labels]

        assert 2 <= hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"], role
        assert hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"], role
        if role == "stream":
            assert hpa["spec"]["maxReplicas"] <= partitions
        assert 1 <= pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], role
        resources = manifests.worker_container(deployment)["resources"]
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
        selector = monitor["spec"]["selector"]
        for role, deployment in manifests.workers(documents).items():
            pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert selector["matchLabels"].items() <= pod_labels.items(), role
            for expression in selector.get("matchExpressions", []):
                assert expression["operator"] == "In" and pod_labels[expression["key"]] in expression["values"], role


def test_minikube_runs_one_small_worker_reachable_from_the_host(manifests):
    documents = manifests.kustomize_build("minikube")
    roles = manifests.workers(documents)
    assert set(roles) == {"all"}, "minikube runs one worker of role all"
    deployment = roles["all"]
    assert deployment["metadata"]["name"] == "taskstream", "scripts/setup-minikube.sh waits for deployment/taskstream"
    assert deployment["spec"]["replicas"] == 1
    assert not manifests.find(documents, "HorizontalPodAutoscaler"), "one replica: nothing to autoscale"
    assert not manifests.find(documents, "PodMonitor"), "minikube has no Prometheus Operator CRDs by default"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "taskstream:dev" and container["imagePullPolicy"] == "Never"
    assert container["resources"]["limits"]["memory"] in ("256Mi", "512Mi")

    service = manifests.api_service(documents)
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
