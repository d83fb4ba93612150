"""The scripts in scripts/ do the right thing, run against stand-in kubectl/helm/minikube/taskstream.

Each script runs in a sandbox whose PATH holds only stubs and the few
standard utilities the scripts use; the stubs log their command lines, so the
tests see exactly what would have been run against a cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UTILITIES = ("bash", "env", "dirname", "mktemp", "rm", "cat", "awk", "tail")

DATABASE_URL = "postgresql://doadmin:pg-S3cret-Value@db-postgresql-ams3-1234.b.db.ondigitalocean.com:25060/taskstream?sslmode=require"
JWT_SECRET = "jwt-0123456789abcdef0123456789abcdef"
KAFKA_SASL_PASSWORD = "kafka-S3cret-Value"

KUBECTL = r"""
case "$*" in
  "config current-context") echo do-ams3-taskstream ;;
  "-n taskstream get secret taskstream-secrets") [ -z "${STUB_NO_SECRETS:-}" ] ;;
  *"get secret taskstream-kafka-ca"*) exit 1 ;;
  *" create secret "*)
    for arg in "$@"; do
      case "$arg" in
        --from-file=*) file=${arg#--from-file=}; key=${file##*/}
          case "$file" in *=*) key=${file%%=*}; file=${file#*=} ;; esac
          cat "$file" > "$STUB_SECRET_DATA/$key" ;;
      esac
    done
    echo "apiVersion: v1"; echo "kind: Secret" ;;
  *"apply -f -"*) cat > /dev/null; echo "applied" ;;
esac
"""

HELM = r"""
case "$1" in
  history)
    if [ -z "${STUB_HELM_HISTORY:-}" ]; then echo "Error: release: not found" >&2; exit 1; fi
    echo "$STUB_HELM_HISTORY" ;;
  upgrade) exit "${STUB_HELM_UPGRADE_EXIT:-0}" ;;
esac
"""

TASKSTREAM = r"""exit "${STUB_VERIFY_EXIT:-0}"
"""

MINIKUBE = r"""
case "$1" in
  -p) shift 2 ;;
esac
case "$1" in
  ip) echo 192.168.49.2 ;;
esac
"""


class Sandbox:
    def __init__(self, root: Path, repo: Path):
        self.repo = repo
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log_file = root / "commands.log"
        self.secret_data = root / "secret-data"
        self.secret_data.mkdir()
        self.bash = shutil.which("bash")
        for utility in UTILITIES:
            path = shutil.which(utility)
            if path is not None:
                (self.bin / utility).symlink_to(path)
        # The interpreter itself, not a version manager's shim (which needs more of PATH).
        (self.bin / "python3").symlink_to(os.path.realpath(sys.executable))

    def stub(self, name: str, body: str = "") -> None:
        script = self.bin / name
        script.write_text(f'#!{self.bash}\nprintf "%s\\n" "{name} $*" >> "$STUB_LOG"\n{body}')
        script.chmod(0o755)

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": str(self.bin),
            "HOME": str(self.bin.parent),
            "STUB_LOG": str(self.log_file),
            "STUB_SECRET_DATA": str(self.secret_data),
            **env,
        }
        return subprocess.run(
            [self.bash, str(self.repo / "scripts" / script)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    @property
    def commands(self) -> list[str]:
        return self.log_file.read_text().splitlines() if self.log_file.exists() else []

    @property
    def secrets_sent(self) -> dict[str, str]:
        return {path.name: path.read_text() for path in self.secret_data.iterdir()}


@pytest.fixture
def sandbox(tmp_path, manifests):
    return Sandbox(tmp_path, manifests.repo_root)


@pytest.fixture
def production_tools(sandbox):
    sandbox.stub("kubectl", KUBECTL)
    sandbox.stub("helm", HELM)
    sandbox.stub("taskstream", TASKSTREAM)
    return sandbox


SECRET_ENV = {"DATABASE_URL": DATABASE_URL, "JWT_SECRET": JWT_SECRET, "KAFKA_SASL_PASSWORD": KAFKA_SASL_PASSWORD}
HISTORY = json.dumps(
    [
        {"revision": 3, "status": "superseded", "chart": "taskstream-0.1.0"},
        {"revision": 4, "status": "deployed", "chart": "taskstream-0.1.0"},
        {"revision": 5, "status": "failed", "chart": "taskstream-0.1.0"},
    ]
)


def _assert_no_secret_leaked(result, sandbox):
    for value in SECRET_ENV.values():
        assert value not in result.stdout + result.stderr, "a secret value was printed"
        assert all(value not in command for command in sandbox.commands), "a secret value was on a command line"


def test_setup_secrets_creates_both_secrets_without_printing_or_passing_values(production_tools, tmp_path):
    ca = tmp_path / "ca-certificate.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
    result = production_tools.run("setup-secrets.sh", **SECRET_ENV, KAFKA_CA_CERT_FILE=str(ca))

    assert result.returncode == 0, result.stderr
    assert production_tools.secrets_sent == {**SECRET_ENV, "ca-certificate.crt": ca.read_text()}
    creates = [c for c in production_tools.commands if " create secret generic " in c]
    assert [c.split()[6] for c in creates] == ["taskstream-secrets", "taskstream-kafka-ca"]
    assert all("--dry-run=client -o yaml" in c for c in creates), "create | apply, so re-running updates"
    _assert_no_secret_leaked(result, production_tools)


def test_setup_secrets_refuses_a_database_url_without_sslmode_require(production_tools):
    plain = DATABASE_URL.replace("?sslmode=require", "")
    result = production_tools.run("setup-secrets.sh", **{**SECRET_ENV, "DATABASE_URL": plain})

    assert result.returncode == 1
    assert "sslmode=require" in result.stderr
    assert plain not in result.stderr + result.stdout
    assert not [c for c in production_tools.commands if "create secret" in c]


def test_setup_secrets_names_every_missing_variable(production_tools):
    result = production_tools.run("setup-secrets.sh", JWT_SECRET=JWT_SECRET)

    assert result.returncode == 1
    assert "missing environment variable(s): DATABASE_URL KAFKA_SASL_PASSWORD" in result.stderr


def test_deploy_upgrades_atomically_and_keeps_a_release_that_passes_verification(production_tools):
    result = production_tools.run("deploy-production.sh", IMAGE_TAG="9a8b7c6", STUB_HELM_HISTORY=HISTORY)

    assert result.returncode == 0, result.stderr
    upgrade = next(c for c in production_tools.commands if c.startswith("helm upgrade"))
    for flag in (
        "--install taskstream",
        "--atomic",
        "--wait",
        "--timeout 10m",
        "image.tag=9a8b7c6",
        "values-production.yaml",
    ):
        assert flag in upgrade
    assert (
        "taskstream deploy verify --namespace taskstream --selector app.kubernetes.io/instance=taskstream --timeout 300"
        in production_tools.commands
    )
    assert not [c for c in production_tools.commands if c.startswith("helm rollback")]


def test_deploy_rolls_back_to_the_last_deployed_revision_when_verification_fails(production_tools):
    result = production_tools.run(
        "deploy-production.sh", IMAGE_TAG="9a8b7c6", STUB_HELM_HISTORY=HISTORY, STUB_VERIFY_EXIT="1"
    )

    assert result.returncode == 1
    rollback = [c for c in production_tools.commands if c.startswith("helm rollback")]
    assert len(rollback) == 1 and rollback[0].startswith("helm rollback taskstream 4 ")
    assert "--wait" in rollback[0]
    assert "verification failed; rolled back to revision 4" in result.stderr


def test_deploy_does_not_roll_back_a_first_install_it_cannot_restore(production_tools):
    result = production_tools.run("deploy-production.sh", IMAGE_TAG="9a8b7c6", STUB_VERIFY_EXIT="1")

    assert result.returncode == 1
    assert "nothing to roll back to" in result.stderr
    assert not [c for c in production_tools.commands if c.startswith("helm rollback")]


def test_deploy_stops_before_helm_when_the_secrets_are_missing(production_tools):
    result = production_tools.run("deploy-production.sh", IMAGE_TAG="9a8b7c6", STUB_NO_SECRETS="1")

    assert result.returncode == 1
    assert "run scripts/setup-secrets.sh first" in result.stderr
    assert not [c for c in production_tools.commands if c.startswith("helm upgrade")]


@pytest.mark.parametrize(
    ("script", "present", "missing"),
    [
        ("deploy-production.sh", ("kubectl", "taskstream"), "helm"),
        ("deploy-production.sh", ("kubectl", "helm"), "taskstream"),
        ("setup-secrets.sh", (), "kubectl"),
        ("setup-minikube.sh", ("kubectl",), "minikube"),
    ],
)
def test_scripts_name_the_missing_tool(sandbox, script, present, missing):
    for tool in present:
        sandbox.stub(tool)
    result = sandbox.run(script, IMAGE_TAG="x", **SECRET_ENV)

    assert result.returncode == 1
    assert f"error: {missing} is not installed (or not on PATH)" in result.stderr
    assert not sandbox.commands, "nothing may run before the tools are all there"


def test_setup_minikube_refuses_a_cluster_too_small_for_the_stack(sandbox):
    sandbox.stub("minikube", MINIKUBE)
    sandbox.stub("kubectl")
    result = sandbox.run("setup-minikube.sh", MINIKUBE_MEMORY="2048")

    assert result.returncode == 1
    assert "MINIKUBE_MEMORY=2048: the stack needs at least 4096 MiB" in result.stderr
    assert not sandbox.commands


def test_setup_minikube_builds_applies_waits_and_prints_the_url(sandbox):
    sandbox.stub("minikube", MINIKUBE)
    sandbox.stub("kubectl", 'case "$*" in *allocatable.memory*) echo 8000000Ki ;; esac\n')
    result = sandbox.run("setup-minikube.sh")

    assert result.returncode == 0, result.stderr
    commands = sandbox.commands
    build = commands.index(next(c for c in commands if "image build -t taskstream:dev" in c))
    apply = commands.index(next(c for c in commands if "apply -k" in c and c.endswith("kustomize/overlays/minikube")))
    rollout = commands.index(next(c for c in commands if "rollout status deployment/taskstream" in c))
    assert build < apply < rollout
    assert any("wait --for=condition=complete job/taskstream-migrate" in c for c in commands)
    assert "http://192.168.49.2:30066/health" in result.stdout


def test_setup_minikube_shows_pods_and_events_when_a_rollout_stalls(sandbox):
    sandbox.stub("minikube", MINIKUBE)
    sandbox.stub(
        "kubectl",
        'case "$*" in *allocatable.memory*) echo 8000000Ki ;; *"statefulset/kafka"*) exit 1 ;;'
        ' *"get pods"*) echo "kafka-0   0/1   CrashLoopBackOff" ;; esac\n',
    )
    result = sandbox.run("setup-minikube.sh")

    assert result.returncode == 1
    assert "Kafka did not become ready" in result.stderr
    assert "kafka-0   0/1   CrashLoopBackOff" in result.stderr
    assert not [c for c in sandbox.commands if "deployment/taskstream" in c]
