#!/usr/bin/env bash
# Deploy an image to production with Helm, verify the rollout with
# `taskstream deploy verify`, and roll back to the previous revision when the
# verification fails (helm --atomic already undoes a failed upgrade).
#
#   IMAGE_TAG=<full git sha> scripts/deploy-production.sh
#
# Environment (defaults): IMAGE_TAG (required), IMAGE_REPOSITORY
# (values-production.yaml's), RELEASE (taskstream), NAMESPACE (taskstream),
# HELM_TIMEOUT (10m), VERIFY_TIMEOUT (300, seconds). Uses the current kube context.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/lib.sh
source "$here/lib.sh"

release=${RELEASE:-taskstream}
namespace=${NAMESPACE:-taskstream}
helm_timeout=${HELM_TIMEOUT:-10m}
verify_timeout=${VERIFY_TIMEOUT:-300}
chart=$repo/helm/taskstream
last_deployed='import json, sys
print(next((str(r["revision"]) for r in reversed(json.load(sys.stdin)) if r["status"] == "deployed"), ""))'

need helm "See https://helm.sh/docs/intro/install/"
need kubectl "See https://kubernetes.io/docs/tasks/tools/"
need taskstream "Install this project: python -m pip install ."
need_env IMAGE_TAG

# Everything below (helm, kubectl, the verifier) uses the current context.
context=$(kubectl config current-context 2>/dev/null) ||
  die "kubectl has no current context: doctl kubernetes cluster kubeconfig save <cluster>"
info "kube context: $context"

kubectl -n "$namespace" get secret taskstream-secrets >/dev/null 2>&1 ||
  die "secret/taskstream-secrets is missing in namespace $namespace: run scripts/setup-secrets.sh first"

# The revision live before this deploy (the last "deployed" one): where a
# failed verification returns. Empty on a first install.
previous=$(helm history "$release" --namespace "$namespace" --output json 2>/dev/null |
  python3 -c "$last_deployed" || true)

upgrade=(upgrade --install "$release" "$chart"
  --namespace "$namespace"
  --values "$chart/values-production.yaml"
  --set-string "image.tag=$IMAGE_TAG"
  --atomic --wait --timeout "$helm_timeout")
if [[ -n ${IMAGE_REPOSITORY:-} ]]; then
  upgrade+=(--set-string "image.repository=$IMAGE_REPOSITORY")
fi

info "deploying $release (image tag $IMAGE_TAG) to namespace $namespace"
if ! helm "${upgrade[@]}"; then
  if [[ -n $previous ]]; then
    die "helm upgrade failed; --atomic restored revision $previous"
  fi
  die "helm upgrade failed on the first install; --atomic removed it"
fi

info "verifying the rollout"
if taskstream deploy verify --namespace "$namespace" \
  --selector "app.kubernetes.io/instance=$release" --timeout "$verify_timeout"; then
  info "deployed $release at image tag $IMAGE_TAG"
  exit 0
fi

if [[ -z $previous ]]; then
  die "verification failed on the first install: nothing to roll back to (inspect it, or: helm uninstall $release -n $namespace)"
fi
info "verification failed: rolling back to revision $previous"
helm rollback "$release" "$previous" --namespace "$namespace" \
  --wait --timeout "$helm_timeout" ||
  die "rollback to revision $previous failed as well: check 'helm history $release -n $namespace'"
die "verification failed; rolled back to revision $previous"
