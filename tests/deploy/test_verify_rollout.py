"""`taskstream deploy verify` judges rollouts correctly, replayed from API responses.

Each fixture in fixtures/ is a sequence of polls; a poll holds the
DeploymentList, JobList and PodList the API returns for the selector (the
JSON of `kubectl get deployments,jobs,pods -l SELECTOR -o json`, one list per
kind). The fake cluster moves to the next poll whenever the verifier sleeps,
and stays on the last one, so time and cluster state advance together.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from streams.cli.deploy import EXIT_FAILED, EXIT_HEALTHY, EXIT_TIMED_OUT, verify_rollout


def _to_model(data, type_name):
    """Deserialize API JSON exactly as the kubernetes client does for a live response."""
    from kubernetes.client import ApiClient

    text = json.dumps(data)
    try:
        return ApiClient().deserialize(text, type_name, "application/json")  # kubernetes >= 34
    except TypeError:
        return ApiClient().deserialize(SimpleNamespace(data=text), type_name)  # older clients


class RecordedCluster:
    """Answers the three list calls from a recording; doubles as clock and sleep."""

    def __init__(self, recording, errors=()):
        self.namespace = recording["namespace"]
        self.selector = recording["selector"]
        self.polls = recording["polls"]
        self.errors = list(errors)  # raised by the first list calls, one each
        self.index = 0
        self.now = 1000.0
        self.sleeps = []
        self.lines = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds
        self.index = min(self.index + 1, len(self.polls) - 1)

    def out(self, line):
        self.lines.append(line)

    @property
    def output(self):
        return "\n".join(self.lines)

    @property
    def progress(self):
        """The "[  12s] waiting for: ..." lines printed while polling."""
        return [line for line in self.lines if line.startswith("  [")]

    def _serve(self, namespace, label_selector, kind, type_name):
        assert (namespace, label_selector) == (self.namespace, self.selector)
        if self.errors:
            raise self.errors.pop(0)
        return _to_model(self.polls[self.index][kind], type_name)

    def list_namespaced_deployment(self, namespace, label_selector):
        return self._serve(namespace, label_selector, "deployments", "V1DeploymentList")

    def list_namespaced_job(self, namespace, label_selector):
        return self._serve(namespace, label_selector, "jobs", "V1JobList")

    def list_namespaced_pod(self, namespace, label_selector):
        return self._serve(namespace, label_selector, "pods", "V1PodList")


@pytest.fixture
def replay(rollout_fixture, tools):
    tools.require_module("kubernetes", "pip install kubernetes")

    def run(name, timeout=300.0, errors=()):
        cluster = RecordedCluster(rollout_fixture(name), errors)
        status = verify_rollout(
            cluster.namespace,
            cluster.selector,
            timeout,
            apps_api=cluster,
            core_api=cluster,
            batch_api=cluster,
            clock=cluster.clock,
            sleep=cluster.sleep,
            out=cluster.out,
            interval=5.0,
        )
        return status, cluster

    return run


def test_healthy_rollout_passes_once_every_replica_is_updated_and_ready(replay):
    status, cluster = replay("healthy_rollout")

    assert status == EXIT_HEALTHY
    assert cluster.index == len(cluster.polls) - 1, "must wait for the last poll, where the rollout completes"
    assert "Rollout healthy" in cluster.output
    assert "ok    deployment/taskstream: 3/3 updated, 3/3 available" in cluster.output
    assert "ok    job/taskstream-migrate: succeeded" in cluster.output
    assert "ok    pod/taskstream-7c9d8f6b5d-r5vbn: ready (1 restart)" in cluster.output
    assert "FAIL" not in cluster.output


def test_healthy_rollout_reports_progress_while_waiting(replay):
    _, cluster = replay("healthy_rollout")
    assert "job/taskstream-migrate: running" in cluster.progress[0]
    assert "deployment/taskstream: 1/3 updated, 3/3 available" in cluster.progress[0]
    assert "old replica(s) still terminating" not in cluster.output.split("Rollout healthy")[1]


def test_crash_looping_worker_fails_fast_and_says_how_to_read_its_logs(replay):
    status, cluster = replay("crash_loop")

    assert status == EXIT_FAILED
    assert sum(cluster.sleeps) < 30, "a crash loop is final: no waiting for the timeout"
    assert "Rollout FAILED" in cluster.output
    failure = next(line for line in cluster.lines if line.startswith("  FAIL"))
    assert "pod/taskstream-7c9d8f6b5d-fj3kd container worker: CrashLoopBackOff" in failure
    assert "last exit 1 (Error)" in failure
    assert "kubectl -n taskstream logs taskstream-7c9d8f6b5d-fj3kd -c worker --previous" in failure


def test_restart_count_growing_while_watching_counts_as_a_crash_loop(replay):
    status, cluster = replay("restart_growth")

    assert status == EXIT_FAILED
    assert "container worker: restarted 3 times while verifying; last exit 137 (OOMKilled)" in cluster.output


def test_image_pull_backoff_fails_but_a_first_pull_error_gets_another_look(replay):
    status, cluster = replay("image_pull_backoff")

    assert status == EXIT_FAILED
    assert cluster.index == 1, "ErrImagePull alone can be transient; ImagePullBackOff is final"
    assert "container worker: ImagePullBackOff" in cluster.output
    assert "Back-off pulling image" in cluster.output


def test_failed_migration_job_fails_with_its_reason_exit_code_and_logs_command(replay):
    status, cluster = replay("failed_migration")

    assert status == EXIT_FAILED
    failure = next(line for line in cluster.lines if line.startswith("  FAIL"))
    assert (
        "job/taskstream-migrate: failed (BackoffLimitExceeded: Job has reached the specified backoff limit)" in failure
    )
    assert "last exit 1 (Error)" in failure
    assert "kubectl -n taskstream logs job/taskstream-migrate" in failure
    assert "job/taskstream-migrate: running, 2 failed attempt(s); last exit 1 (Error)" in cluster.progress[0]


def test_rollout_that_never_becomes_ready_times_out_saying_what_is_missing(replay):
    status, cluster = replay("timeout", timeout=60)

    assert status == EXIT_TIMED_OUT
    assert sum(cluster.sleeps) == pytest.approx(60), "waits the whole timeout, and not a second more"
    assert max(cluster.sleeps) <= 5.0
    assert "Rollout TIMED OUT after 60s (limit 60s)" in cluster.output
    assert "wait  deployment/taskstream: 1/3 updated, 3/3 available" in cluster.output
    assert (
        "pod/taskstream-7c9d8f6b5d-fj3kd: not ready (container worker running, readiness probe not passing yet)"
        in cluster.output
    )
    assert len(cluster.progress) == 1, "progress is printed only when it changes"


def test_a_selector_matching_nothing_times_out_naming_the_selector(replay, rollout_fixture):
    recording = rollout_fixture("healthy_rollout")
    empty = {kind: {**listing, "items": []} for kind, listing in recording["polls"][0].items()}
    cluster = RecordedCluster({**recording, "polls": [empty]})

    status = verify_rollout(
        cluster.namespace,
        cluster.selector,
        20,
        apps_api=cluster,
        core_api=cluster,
        batch_api=cluster,
        clock=cluster.clock,
        sleep=cluster.sleep,
        out=cluster.out,
    )

    assert status == EXIT_TIMED_OUT
    assert "none found: wrong selector or namespace?" in cluster.output
    assert "app.kubernetes.io/instance=taskstream" in cluster.output


def _api_error(status, reason):
    from kubernetes.client.exceptions import ApiException

    return ApiException(status=status, reason=reason)


def test_forbidden_api_access_fails_at_once_pointing_at_rbac(replay):
    status, cluster = replay("healthy_rollout", errors=[_api_error(403, "Forbidden")])

    assert status == EXIT_FAILED
    assert cluster.sleeps == []
    assert "refused access (403 Forbidden)" in cluster.output
    assert "RBAC" in cluster.output


def test_transient_api_errors_are_retried(replay):
    status, cluster = replay("healthy_rollout", errors=[_api_error(503, "Service Unavailable")])

    assert status == EXIT_HEALTHY
    assert "Kubernetes API error (503: Service Unavailable); retrying" in cluster.output


def test_an_unreachable_api_server_times_out_naming_the_connection_error(replay):
    refused = [ConnectionRefusedError(111, "Connection refused") for _ in range(100)]
    status, cluster = replay("healthy_rollout", timeout=30, errors=refused)

    assert status == EXIT_TIMED_OUT
    assert "wait  Kubernetes API error (ConnectionRefusedError: [Errno 111] Connection refused); retrying" in (
        cluster.output
    )
