"""Verify a Kubernetes rollout of taskstream (`taskstream deploy verify`).

Polls the Deployments, Jobs and Pods matching a label selector until the
rollout is healthy, a problem that will not fix itself shows up, or time runs
out, and prints a summary an operator can act on:

- every Deployment has observed its spec, all its replicas are updated and
  available, and no old replica is left;
- every worker Pod is Ready;
- no container is in CrashLoopBackOff or ImagePullBackOff (or another state
  that needs a human), and none keeps restarting while we watch;
- every Job (the schema migration) has succeeded; a failed one fails at once.

The Kubernetes API objects come from injectable clients, so the logic runs in
tests against recorded API responses without a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: Exit statuses of `verify_rollout` (and of `taskstream deploy verify`).
EXIT_HEALTHY = 0
EXIT_FAILED = 1
EXIT_TIMED_OUT = 2

#: Container waiting reasons that do not resolve without a human (a new
#: image, a missing Secret, a crashing process): fail at once, don't wait.
FATAL_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

#: API statuses that retrying will not fix.
_FATAL_API_STATUSES = frozenset({401, 403})


class KubeConfigError(RuntimeError):
    """No usable Kubernetes credentials (neither a kubeconfig nor in-cluster)."""


def load_kube_clients(context: str | None = None) -> tuple[Any, Any, Any]:
    """Return (AppsV1Api, CoreV1Api, BatchV1Api) for a kubeconfig context.

    Uses the kubeconfig (``KUBECONFIG`` or ``~/.kube/config``), its current
    context unless ``context`` names another; without a kubeconfig and with no
    context asked for, falls back to the in-cluster service account.
    """
    from kubernetes import client, config

    try:
        api_client = config.new_client_from_config(context=context)
    except config.ConfigException as kubeconfig_error:
        if context is not None:
            raise KubeConfigError(f"kubeconfig context {context!r}: {kubeconfig_error}") from kubeconfig_error
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException as incluster_error:
            raise KubeConfigError(
                "no Kubernetes credentials: no kubeconfig found "
                f"({kubeconfig_error}) and not running in a cluster ({incluster_error})"
            ) from incluster_error
        api_client = client.ApiClient(configuration)
    return client.AppsV1Api(api_client), client.CoreV1Api(api_client), client.BatchV1Api(api_client)


@dataclass
class _Report:
    """What one look at the cluster found, as lines for the summary."""

    healthy: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def verify_rollout(
    namespace: str,
    selector: str,
    timeout: float,
    *,
    apps_api: Any = None,
    core_api: Any = None,
    batch_api: Any = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    out: Callable[[str], None] = print,
    interval: float = 5.0,
    restart_tolerance: int = 1,
) -> int:
    """Wait until the rollout selected by ``selector`` is healthy.

    Returns EXIT_HEALTHY (0), EXIT_FAILED (1) as soon as something is broken
    for good (crash loop, image pull failure, failed migration Job, stalled
    Deployment, forbidden API access), or EXIT_TIMED_OUT (2) after ``timeout``
    seconds with the rollout still incomplete. A container restarting more
    than ``restart_tolerance`` times while we watch counts as a crash loop.
    Clients not given are built from the current kubeconfig context.
    """
    if apps_api is None or core_api is None or batch_api is None:
        default_apps, default_core, default_batch = load_kube_clients(None)
        apps_api = apps_api or default_apps
        core_api = core_api or default_core
        batch_api = batch_api or default_batch

    out(f"Verifying rollout in namespace {namespace!r}, selector {selector!r}, timeout {timeout:g}s")
    started = clock()
    deadline = started + timeout
    first_restarts: dict[tuple[str, str], int] = {}
    last_waiting: list[str] | None = None

    while True:
        try:
            report = _inspect(namespace, selector, apps_api, core_api, batch_api, first_restarts, restart_tolerance)
        except Exception as exc:  # the client raises ApiException, urllib3 and socket errors
            status = getattr(exc, "status", None)
            if status is None and not _is_transport_error(exc):
                raise
            reason = getattr(exc, "reason", None) or exc
            if status in _FATAL_API_STATUSES:
                out(f"Rollout check FAILED: the Kubernetes API refused access ({status} {reason}).")
                out(f"  Check the credentials' RBAC: list deployments, pods and jobs in {namespace!r}.")
                return EXIT_FAILED
            report = _Report(waiting=[f"Kubernetes API error ({status or type(exc).__name__}: {reason}); retrying"])

        elapsed = clock() - started
        if report.failed:
            _summarise(out, f"Rollout FAILED after {elapsed:.0f}s:", report)
            return EXIT_FAILED
        if not report.waiting:
            _summarise(out, f"Rollout healthy after {elapsed:.0f}s:", report)
            return EXIT_HEALTHY
        if report.waiting != last_waiting:
            out(f"  [{elapsed:4.0f}s] waiting for: " + "; ".join(report.waiting))
            last_waiting = report.waiting

        now = clock()
        if now >= deadline:
            _summarise(
                out, f"Rollout TIMED OUT after {now - started:.0f}s (limit {timeout:g}s); still waiting for:", report
            )
            return EXIT_TIMED_OUT
        sleep(min(interval, deadline - now))


def _is_transport_error(exc: Exception) -> bool:
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in ("urllib3", "kubernetes")


def _summarise(out: Callable[[str], None], title: str, report: _Report) -> None:
    out(title)
    for line in report.failed:
        out(f"  FAIL  {line}")
    for line in report.waiting:
        out(f"  wait  {line}")
    for line in report.healthy:
        out(f"  ok    {line}")


def _inspect(
    namespace: str,
    selector: str,
    apps_api: Any,
    core_api: Any,
    batch_api: Any,
    first_restarts: dict[tuple[str, str], int],
    restart_tolerance: int,
) -> _Report:
    report = _Report()
    deployments = apps_api.list_namespaced_deployment(namespace, label_selector=selector).items
    jobs = batch_api.list_namespaced_job(namespace, label_selector=selector).items
    pods = core_api.list_namespaced_pod(namespace, label_selector=selector).items

    if not deployments:
        report.waiting.append(f"a Deployment matching {selector!r} (none found: wrong selector or namespace?)")
    for deployment in sorted(deployments, key=_name):
        _check_deployment(deployment, report)
    for job in sorted(jobs, key=_name):
        _check_job(job, pods, report)
    for pod in sorted(pods, key=_name):
        _check_pod(namespace, pod, report, first_restarts, restart_tolerance)
    return report


def _name(obj: Any) -> str:
    return obj.metadata.name


def _conditions(obj: Any) -> dict[str, Any]:
    return {condition.type: condition for condition in (obj.status.conditions or [])}


def _is_true(condition: Any) -> bool:
    return condition is not None and condition.status == "True"


def _check_deployment(deployment: Any, report: _Report) -> None:
    label = f"deployment/{_name(deployment)}"
    wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    status = deployment.status
    conditions = _conditions(deployment)

    progressing = conditions.get("Progressing")
    if progressing is not None and progressing.status == "False" and progressing.reason == "ProgressDeadlineExceeded":
        report.failed.append(f"{label}: rollout stalled (ProgressDeadlineExceeded): {progressing.message}")
        return
    replica_failure = conditions.get("ReplicaFailure")
    if _is_true(replica_failure):
        report.failed.append(f"{label}: cannot create pods ({replica_failure.reason}): {replica_failure.message}")
        return

    updated = status.updated_replicas or 0
    available = status.available_replicas or 0
    total = status.replicas or 0
    counts = f"{updated}/{wanted} updated, {available}/{wanted} available"
    if (status.observed_generation or 0) < (deployment.metadata.generation or 0):
        report.waiting.append(f"{label}: controller has not seen the new spec yet")
    elif updated < wanted or available < wanted:
        report.waiting.append(f"{label}: {counts}")
    elif total > wanted:
        report.waiting.append(f"{label}: {counts}, {total - wanted} old replica(s) still terminating")
    else:
        report.healthy.append(f"{label}: {counts}")


def _check_job(job: Any, pods: Iterable[Any], report: _Report) -> None:
    label = f"job/{_name(job)}"
    conditions = _conditions(job)
    status = job.status
    if _is_true(conditions.get("Complete")) or (status.succeeded or 0) >= (job.spec.completions or 1):
        report.healthy.append(f"{label}: succeeded")
        return
    last_exit = _last_job_exit(job, pods)
    failed = conditions.get("Failed")
    if _is_true(failed):
        report.failed.append(
            f"{label}: failed ({failed.reason}: {failed.message}){last_exit}; "
            f"logs: kubectl -n {job.metadata.namespace} logs {label}"
        )
        return
    attempts = f", {status.failed} failed attempt(s){last_exit}" if status.failed else ""
    report.waiting.append(f"{label}: {'running' if status.active else 'pending'}{attempts}")


def _last_job_exit(job: Any, pods: Iterable[Any]) -> str:
    """The most telling container exit among the Job's pods, e.g. '; last exit 1 (Error)'."""
    for pod in pods:
        if not any(owner.kind == "Job" and owner.name == _name(job) for owner in pod.metadata.owner_references or []):
            continue
        for container in pod.status.container_statuses or []:
            terminated = container.state.terminated if container.state else None
            terminated = terminated or (container.last_state.terminated if container.last_state else None)
            if terminated is not None and terminated.exit_code:
                return f"; last exit {terminated.exit_code} ({terminated.reason})"
    return ""


def _check_pod(
    namespace: str,
    pod: Any,
    report: _Report,
    first_restarts: dict[tuple[str, str], int],
    restart_tolerance: int,
) -> None:
    if pod.metadata.deletion_timestamp is not None or pod.status.phase in ("Succeeded", "Failed"):
        return  # terminating, or a finished Job/test pod (Jobs are judged by their own status)
    label = f"pod/{_name(pod)}"
    problems = []
    statuses = [*(pod.status.init_container_statuses or []), *(pod.status.container_statuses or [])]
    for container in statuses:
        restarts = container.restart_count or 0
        key = (pod.metadata.uid or _name(pod), container.name)
        first_restarts.setdefault(key, restarts)
        waiting = container.state.waiting if container.state else None
        if waiting is not None and waiting.reason in FATAL_WAITING_REASONS:
            hint = _logs_hint(namespace, pod, container) if waiting.reason == "CrashLoopBackOff" else ""
            problems.append(
                f"{label} container {container.name}: {waiting.reason} "
                f"({_restarts(restarts)}{_last_exit(container)}): {waiting.message or 'no message'}{hint}"
            )
        elif restarts - first_restarts[key] > restart_tolerance:
            problems.append(
                f"{label} container {container.name}: restarted {restarts - first_restarts[key]} times "
                f"while verifying{_last_exit(container)}{_logs_hint(namespace, pod, container)}"
            )
    if problems:
        report.failed.extend(problems)
        return

    if not _owned_by(pod, "ReplicaSet"):
        return  # Job pods: the Job's status decides
    if _is_true(_conditions(pod).get("Ready")):
        total_restarts = sum(container.restart_count or 0 for container in statuses)
        report.healthy.append(f"{label}: ready ({_restarts(total_restarts)})")
    else:
        report.waiting.append(f"{label}: not ready ({_why_not_ready(pod)})")


def _restarts(count: int) -> str:
    return f"{count} restart{'' if count == 1 else 's'}"


def _owned_by(pod: Any, kind: str) -> bool:
    return any(owner.kind == kind for owner in pod.metadata.owner_references or [])


def _last_exit(container: Any) -> str:
    terminated = container.last_state.terminated if container.last_state else None
    if terminated is None:
        return ""
    return f"; last exit {terminated.exit_code} ({terminated.reason})"


def _logs_hint(namespace: str, pod: Any, container: Any) -> str:
    return f"; logs: kubectl -n {namespace} logs {_name(pod)} -c {container.name} --previous"


def _why_not_ready(pod: Any) -> str:
    if pod.status.phase == "Pending":
        scheduled = _conditions(pod).get("PodScheduled")
        if scheduled is not None and scheduled.status == "False":
            return f"unschedulable: {scheduled.message}"
    for container in pod.status.init_container_statuses or []:
        state = container.state
        if state is not None and state.waiting is not None:
            return f"init container {container.name} waiting: {state.waiting.reason}"
        if state is not None and state.running is not None:
            return f"init container {container.name} still running"
    for container in pod.status.container_statuses or []:
        state = container.state
        if state is not None and state.waiting is not None:
            return f"container {container.name} waiting: {state.waiting.reason}"
        if state is not None and state.running is not None and not container.ready:
            return f"container {container.name} running, readiness probe not passing yet"
    return f"phase {pod.status.phase}"
