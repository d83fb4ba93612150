"""Kustomize and Helm give the app exactly the settings streams/settings.py reads."""

from __future__ import annotations


def _env_of(container, documents):
    """(plain keys with values, secret keys) a container's environment provides."""
    plain, secret = {}, set()
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        assert ref is not None, f"{container['name']}: only ConfigMaps may feed envFrom, got {source}"
        config_maps = [d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == ref["name"]]
        assert config_maps, f"{container['name']}: envFrom names ConfigMap {ref['name']!r}, which is not rendered"
        plain.update(config_maps[0].get("data", {}))
    for entry in container.get("env", []):
        if "valueFrom" in entry:
            assert "secretKeyRef" in entry["valueFrom"], f"{entry['name']}: only Secrets may feed valueFrom"
            assert entry["valueFrom"]["secretKeyRef"]["key"] == entry["name"]
            secret.add(entry["name"])
        else:
            plain[entry["name"]] = entry["value"]
    return plain, secret


def _app_containers(documents, manifests):
    """Every container running the taskstream image: each role's worker and its migration init container,
    the migration Job."""
    pods = [worker["spec"]["template"]["spec"] for worker in manifests.workers(documents).values()]
    job_pod = manifests.the_one(documents, "Job", "migration")["spec"]["template"]["spec"]
    return [*(c for pod in pods for c in [*pod.get("initContainers", []), *pod["containers"]]), *job_pod["containers"]]


def test_worker_and_migration_get_exactly_the_settings_keys(render_name, manifests, settings_keys):
    """The one list of configuration keys (CONFIG_KEYS) holds for every render of both tools."""
    config_keys, secret_keys = settings_keys
    documents = manifests.render(render_name)
    for container in _app_containers(documents, manifests):
        plain, secret = _env_of(container, documents)
        assert set(plain) | secret == set(config_keys), (
            f"{render_name} {container['name']}: missing {sorted(set(config_keys) - set(plain) - secret)}, "
            f"unexpected {sorted((set(plain) | secret) - set(config_keys))}"
        )
        assert secret == secret_keys, f"{render_name} {container['name']}: secrets must come from a Secret"
        assert not set(plain) & secret, f"{render_name}: {sorted(set(plain) & secret)} set twice"


def test_clusters_use_a_real_kafka_and_the_web_contract(render_name, manifests):
    documents = manifests.render(render_name)
    for role, worker in manifests.workers(documents).items():
        container = manifests.worker_container(worker)
        plain, _ = _env_of(container, documents)

        assert plain["KAFKA_PROFILE"] == "kafka"
        assert plain["WEB_BIND"] == "0.0.0.0"
        assert plain["WEB_PORT"] == "6066"
        http = [port for port in container["ports"] if port["name"] == "http"]
        assert http and http[0]["containerPort"] == 6066, f"{render_name} {role}: the probes need the http port"


def test_each_worker_runs_the_role_its_deployment_is_named_for(render_name, manifests):
    """--role on the command line wins over the ConfigMap's WORKER_ROLE (the default for a bare worker)."""
    documents = manifests.render(render_name)
    roles = manifests.workers(documents)
    assert set(roles) in ({"all"}, {"web", "stream"}), f"{render_name}: worker roles {sorted(roles)}"
    for role, worker in roles.items():
        args = manifests.worker_container(worker)["args"]
        assert args[:1] == ["worker"] and args[-2:] == ["--role", role], f"{render_name} {role}: args {args}"
    assert manifests.app_config(documents)["WORKER_ROLE"] == "all"


def test_data_dir_is_a_writable_empty_dir(render_name, manifests):
    documents = manifests.render(render_name)
    for worker in manifests.workers(documents).values():
        pod = worker["spec"]["template"]["spec"]
        container = manifests.worker_container(worker)
        plain, _ = _env_of(container, documents)
        mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}

        assert plain["DATA_DIR"] in mounts, (
            f"DATA_DIR {plain['DATA_DIR']} is not mounted (the root filesystem is read-only)"
        )
        mount = mounts[plain["DATA_DIR"]]
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert "emptyDir" in volume and not mount.get("readOnly", False)


def test_kafka_ca_file_is_mounted_wherever_it_is_configured(render_name, manifests):
    documents = manifests.render(render_name)
    for container in _app_containers(documents, manifests):
        plain, _ = _env_of(container, documents)
        ca_file = plain["KAFKA_SSL_CAFILE"]
        if not ca_file:
            continue
        mount_paths = [mount["mountPath"] for mount in container.get("volumeMounts", [])]
        assert any(ca_file.startswith(path.rstrip("/") + "/") for path in mount_paths), (
            f"{render_name} {container['name']}: KAFKA_SSL_CAFILE={ca_file} is not inside any mount {mount_paths}"
        )


def test_network_policy_lets_workers_reach_the_configured_kafka_port(render_name, manifests):
    documents = manifests.render(render_name)
    plain, _ = _env_of(manifests.worker_container(next(iter(manifests.workers(documents).values()))), documents)
    policy = manifests.the_one(documents, "NetworkPolicy")
    allowed = {port["port"] for rule in policy["spec"]["egress"] for port in rule.get("ports", [])}
    for server in plain["KAFKA_BROKER_URL"].removeprefix("kafka://").split(";"):
        port = int(server.rsplit(":", 1)[1])
        assert port in allowed, (
            f"{render_name}: egress to Kafka port {port} is blocked (allowed: {sorted(allowed, key=str)})"
        )
