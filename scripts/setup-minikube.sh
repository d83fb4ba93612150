#!/usr/bin/env bash
# Local cluster in one command: start minikube, build the image inside it,
# deploy kustomize/overlays/minikube, wait for the rollout, print the URL.
#
#   scripts/setup-minikube.sh
#
# Environment (defaults): MINIKUBE_PROFILE (minikube), MINIKUBE_CPUS (2),
# MINIKUBE_MEMORY (4096, MiB), ROLLOUT_TIMEOUT (300s).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/lib.sh
source "$here/lib.sh"

profile=${MINIKUBE_PROFILE:-minikube}
cpus=${MINIKUBE_CPUS:-2}
memory_mib=${MINIKUBE_MEMORY:-4096}
timeout=${ROLLOUT_TIMEOUT:-300s}
namespace=taskstream
image=taskstream:dev
node_port=30066
# Postgres + Kafka + one worker request about 1.3 GiB; the system pods and
# the image build need the rest.
min_cpus=2
min_memory_mib=4096

need minikube "See https://minikube.sigs.k8s.io/docs/start/"
need kubectl "See https://kubernetes.io/docs/tasks/tools/"

if ! [[ $cpus =~ ^[0-9]+$ ]] || ((cpus < min_cpus)); then
  die "MINIKUBE_CPUS=$cpus: the stack needs at least $min_cpus CPUs"
fi
if ! [[ $memory_mib =~ ^[0-9]+$ ]] || ((memory_mib < min_memory_mib)); then
  die "MINIKUBE_MEMORY=$memory_mib: the stack needs at least $min_memory_mib MiB"
fi

kc() {
  kubectl --context "$profile" "$@"
}

# Print what is wrong before giving up on a wait.
diagnose() {
  kc -n "$namespace" get pods -o wide >&2 || true
  kc -n "$namespace" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 15 >&2 || true
}

wait_for() {
  local what=$1
  shift
  info "waiting for $what (up to $timeout)"
  if ! kc -n "$namespace" "$@" --timeout "$timeout"; then
    diagnose
    die "$what did not become ready in $timeout (see pods and events above)"
  fi
}

if minikube -p "$profile" status >/dev/null 2>&1; then
  info "minikube profile '$profile' is running"
else
  if [[ -r /proc/meminfo ]]; then
    available_mib=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
    ((available_mib >= memory_mib)) ||
      die "only ${available_mib} MiB of memory available, minikube needs ${memory_mib} MiB (MINIKUBE_MEMORY)"
  fi
  info "starting minikube profile '$profile' ($cpus CPUs, $memory_mib MiB)"
  minikube -p "$profile" start --cpus "$cpus" --memory "$memory_mib" ||
    die "minikube start failed: check the driver (minikube start --help) and free resources"
fi

# An existing cluster may have been created smaller than we need.
allocatable=$(kc get nodes -o jsonpath='{.items[0].status.allocatable.memory}')
if [[ $allocatable =~ ^([0-9]+)Ki$ ]] && ((BASH_REMATCH[1] / 1024 < min_memory_mib * 3 / 4)); then
  die "the minikube node has only $((BASH_REMATCH[1] / 1024)) MiB allocatable; recreate it: minikube -p $profile delete && MINIKUBE_MEMORY=$min_memory_mib $0"
fi

info "building $image inside minikube"
minikube -p "$profile" image build -t "$image" "$repo"

# A Job's pod template is immutable: replace the finished migration Job so
# the new image migrates (the workers' init container does too).
kc -n "$namespace" delete job taskstream-migrate --ignore-not-found

info "applying kustomize/overlays/minikube"
kc apply -k "$repo/kustomize/overlays/minikube"

wait_for "PostgreSQL" rollout status statefulset/postgres
wait_for "Kafka" rollout status statefulset/kafka
wait_for "topic creation" wait --for=condition=complete job/kafka-topics
wait_for "the schema migration" wait --for=condition=complete job/taskstream-migrate
wait_for "the taskstream worker" rollout status deployment/taskstream

if command -v taskstream >/dev/null 2>&1; then
  kubectl config use-context "$profile" >/dev/null
  taskstream deploy verify --namespace "$namespace" --selector app.kubernetes.io/name=taskstream --timeout 120
fi

ip=$(minikube -p "$profile" ip)
info "taskstream is up"
printf '\n  API:        http://%s:%s/health\n' "$ip" "$node_port"
printf '  (if that address is not reachable from this host, e.g. the docker driver on macOS:\n'
printf '   minikube -p %s service taskstream -n %s --url)\n' "$profile" "$namespace"
printf '  Postgres:   kubectl -n %s port-forward svc/postgres 5432\n' "$namespace"
printf '  Kafka:      kubectl -n %s port-forward svc/kafka 29092  (bootstrap localhost:29092)\n\n' "$namespace"
