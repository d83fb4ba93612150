"""Every pod we ship runs non-root with the restrictive security context.

That covers the workers, the migration (Job, Helm hook and init container),
the `helm test` pod, and the minikube infrastructure. No exceptions are
needed: the upstream Postgres image runs as its own postgres user (uid 999)
and Kafka's as appuser (uid 1000), both on a read-only root filesystem,
because every path they write to is an emptyDir or a PersistentVolumeClaim.
"""

from __future__ import annotations


def _restriction_problems(where, pod):
    problems = []
    pod_context = pod.get("securityContext", {})
    if pod_context.get("runAsNonRoot") is not True:
        problems.append(f"{where}: pod securityContext.runAsNonRoot is not true")
    if pod_context.get("runAsUser") == 0:
        problems.append(f"{where}: pod runs as uid 0")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        problems.append(f"{where}: shares a host namespace")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: mounts a service account token it does not need")
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        name = f"{where} container {container['name']}"
        context = container.get("securityContext", {})
        seccomp = context.get("seccompProfile") or pod_context.get("seccompProfile") or {}
        if seccomp.get("type") != "RuntimeDefault":
            problems.append(f"{name}: seccompProfile is not RuntimeDefault")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem is not true")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("runAsUser") == 0:
            problems.append(f"{name}: runs as uid 0")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"{name}: capabilities.drop does not contain ALL")
        if capabilities.get("add"):
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        if "resources" not in container or "memory" not in container["resources"].get("limits", {}):
            problems.append(f"{name}: no memory limit")
    return problems


def test_minikube_infrastructure_pods_run_restricted(manifests):
    specs = list(manifests.pod_specs(manifests.kustomize_build("minikube-infra")))
    assert {where.split("/")[0] for where, _ in specs} == {"StatefulSet", "Job"}
    problems = [problem for where, pod in specs for problem in _restriction_problems(where, pod)]
    assert not problems, "\n".join(problems)


def test_every_app_pod_runs_restricted(render_name, manifests):
    specs = list(manifests.pod_specs(manifests.render(render_name)))
    kinds = {where.split("/")[0] for where, _ in specs}
    assert {"Deployment", "Job"} <= kinds, f"{render_name}: expected the worker and the migration, got {kinds}"
    if render_name.startswith("helm-"):
        assert "Pod" in kinds, "the helm test pod is missing"
    problems = [problem for where, pod in specs for problem in _restriction_problems(where, pod)]
    assert not problems, "\n".join(problems)


def test_app_user_matches_the_image_user(render_name, manifests):
    """runAsUser must be the numeric USER of the Dockerfile, or the process could not read its venv."""
    dockerfile = (manifests.repo_root / "Dockerfile").read_text()
    image_user = next(line.split()[1].split(":")[0] for line in dockerfile.splitlines() if line.startswith("USER "))
    taskstream_objects = [
        doc
        for doc in manifests.render(render_name)
        if doc["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "taskstream"
    ]
    specs = list(manifests.pod_specs(taskstream_objects))
    assert specs
    for where, pod in specs:
        assert str(pod["securityContext"]["runAsUser"]) == image_user, where
